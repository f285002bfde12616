"""A forward-forward run read back: `corebp eval` and `corebp predict` use its label search
(the rule's own inference), and `corebp export` refuses it, saying why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchvision
from corebp_data import MNIST
from corebp_data.root import resolve_root
from corebp_rules import ForwardForward
from PIL import Image

from corebp.inference.trained import open_run
from corebp.recipe import load_recipe
from corebp.training.run import run_recipe
from tests.trained.conftest import ONE_PERCENT

pytestmark = pytest.mark.mnist

#: mnist-ff with 50 hidden units, one epoch on 1 % of the training images.
SMALL = [
    "model.0.out_features=50",
    "model.2.in_features=50",
    "model.2.out_features=50",
    "data.eval_batch_size=2000",
]


@pytest.fixture(scope="module")
def ff_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    loaded = load_recipe("mnist-ff", [*ONE_PERCENT, *SMALL])
    return run_recipe(loaded, tmp_path_factory.mktemp("ff") / "run")[0]


def test_eval_of_a_ff_run_gives_the_summarys_accuracy_digit_for_digit(ff_run: Path, corebp_cli):
    summary = json.loads((ff_run / "summary.json").read_text())
    for split in ("test", "val"):
        code, out, err = corebp_cli("eval", str(ff_run), "--split", split, "--json")
        assert code == 0, err
        metrics = json.loads(out)["metrics"]
        for key in (f"{split}_accuracy", f"{split}_loss"):
            assert metrics[key] == summary[key], key


def test_predict_of_a_ff_run_gives_the_label_search_argmax(
    ff_run: Path, tmp_path: Path, corebp_cli
):
    raw = torchvision.datasets.MNIST(str(resolve_root(None)), train=False, download=False)
    files = []
    for i in range(8):
        files.append(tmp_path / f"{i}.png")
        Image.fromarray(raw.data[i].numpy(), mode="L").save(files[-1])
    code, out, err = corebp_cli("predict", str(ff_run), *map(str, files), "--json")
    assert code == 0, err
    predicted = json.loads(out)

    run = open_run(ff_run)
    model = run.model()
    args = run.loaded.recipe.learning_rule.args
    rule = ForwardForward(**args)
    rule.attach(model)
    x, _ = next(iter(MNIST(**run.loaded.recipe.data.args).batches("test", 8)))
    scores = rule.infer(model, x)
    assert scores.shape == (8, 10)
    assert [p["label"] for p in predicted] == scores.argmax(1).tolist()
    assert torch.equal(torch.tensor([p["outputs"] for p in predicted]), scores)


def test_export_of_a_ff_run_exits_2_saying_the_model_alone_would_not_predict(
    ff_run: Path, corebp_cli
):
    code, out, err = corebp_cli("export", str(ff_run), "--format", "torch")
    assert code == 2, (out, err)
    assert err.startswith("corebp: error: ") and "Traceback" not in err
    assert "trained with learning_rule 'ff'" in err
    assert "the exported model alone" in err and "corebp predict" in err
    assert not list(ff_run.glob("model.*"))
