"""`corebp eval`: the run's own numbers again, from the checkpoint and recipe it wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from corebp.errors import DataError
from corebp.inference.trained import evaluate, load_weights, open_run
from corebp.recipe import load_recipe
from corebp.training.run import run_recipe
from corebp.training.trainer import Trainer


def _printed(output: str) -> dict[str, str]:
    """{metric: the number exactly as printed} from eval's plain-text lines."""
    rows = [line.split() for line in output.splitlines() if line.startswith("  ")]
    return {key: value for key, value in rows}


def test_eval_prints_the_summary_numbers_digit_for_digit(synthetic_run: Path, corebp_cli):
    summary = json.loads((synthetic_run / "summary.json").read_text())
    code, out, err = corebp_cli("eval", str(synthetic_run))
    assert code == 0, err
    printed = _printed(out)
    assert printed["test_accuracy"] == json.dumps(summary["test_accuracy"])
    assert printed["test_loss"] == json.dumps(summary["test_loss"])


def test_eval_json_on_the_train_split_equals_a_retrained_model(synthetic_run: Path, corebp_cli):
    code, out, _ = corebp_cli("eval", str(synthetic_run), "--split", "train", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["split"] == "train"
    # The same recipe and seed retrain to the same weights (tests/recipes/test_run.py).
    trainer = Trainer(load_recipe(str(synthetic_run / "recipe.yaml")), progress="log")
    trainer.fit()
    expected = {f"train_{k}": v for k, v in trainer.view.evaluate("train").items()}
    assert result["metrics"] == expected


@pytest.mark.mnist
def test_eval_of_the_tuned_mnist_recipe_matches_its_summary(mnist_run: Path, corebp_cli):
    summary = json.loads((mnist_run / "summary.json").read_text())
    code, out, err = corebp_cli("eval", str(mnist_run))
    assert code == 0, err
    assert _printed(out)["test_accuracy"] == json.dumps(summary["test_accuracy"])
    code, out, _ = corebp_cli("eval", str(mnist_run), "--split", "val", "--json")
    assert json.loads(out)["metrics"]["val_accuracy"] == summary["val_accuracy"]


def test_eval_of_val_on_a_run_that_held_none_out_says_why_and_how_to_fix(
    synthetic_run: Path, corebp_cli
):
    code, out, err = corebp_cli("eval", str(synthetic_run), "--split", "val")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"corebp: error: {synthetic_run}: has no 'val' split: ")
    assert "trained with data.validation_split 0.0" in err
    assert "expected split test or train" in err and "data.validation_split=0.1" in err


@pytest.mark.parametrize("override", ["data.validation_split=0.1", "train.seed=1"])
@pytest.mark.parametrize("split", ["val", "test"])
def test_eval_refuses_an_override_that_changes_what_the_run_held_out(
    synthetic_run: Path, corebp_cli, override: str, split: str
):
    # A "val" made up after training would hold examples the model was trained on.
    key = override.partition("=")[0]
    code, out, err = corebp_cli("eval", str(synthetic_run), override, "--split", split)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"corebp: error: {override}: the run was trained with {key} ")
    assert f"Fix: drop the override {key}=" in err


def test_eval_with_another_model_in_the_recipe_is_refused(synthetic_run: Path, corebp_cli):
    overrides = ("model.0.out_features=8", "model.2.in_features=8")  # widths still chain
    code, _, err = corebp_cli("eval", str(synthetic_run), *overrides)
    assert code == 2
    assert "parameter '0.W' has shape (2, 16); the recipe's model expects (2, 8)" in err


@pytest.mark.parametrize("name", ["eval", "predict", "export"])
def test_each_command_has_examples_in_its_help(corebp_cli, name: str):
    code, out, _ = corebp_cli(name, "--help")
    assert code == 0 and "Examples" in out and f"corebp {name} runs/" in out


def test_eval_of_a_folder_without_a_run_names_what_is_missing(tmp_path: Path, corebp_cli):
    code, _, err = corebp_cli("eval", str(tmp_path))
    assert code == 2 and err.count("\n") == 1
    assert f"{tmp_path}: no checkpoint.pt there" in err


def test_evaluate_leaves_the_global_rng_as_it_was(synthetic_run: Path):
    before = torch.get_rng_state()
    evaluate(open_run(synthetic_run))
    assert torch.equal(torch.get_rng_state(), before)


def test_load_weights_names_missing_parameters(synthetic_run: Path):
    run = open_run(synthetic_run)
    model = run.model()
    weights = dict(run.state["model"])
    del weights["2.b"]
    with pytest.raises(DataError, match=r"holds parameters \['0.W', '0.b', '2.W'\]"):
        load_weights(model, {"model": weights, "buffers": {}}, "ckpt")


BATCH_NORM = """\
model:
  - {type: linear, in_features: 2, out_features: 16, init: xavier}
  - {type: batch_norm1d, num_features: 16}
  - {type: tanh}
  - {type: linear, in_features: 16, out_features: 3, init: xavier}
loss: {type: cross_entropy}
optimizer: {type: sgd, lr: 0.1}
data: {source: synthetic, batch_size: 16, args: {kind: spirals, num_classes: 3}}
train: {epochs: 2, seed: 0, device: cpu}
metrics: [loss, accuracy]
output: {progress: log, plots: false}
"""


def test_eval_of_a_batch_norm_run_uses_its_trained_running_statistics(tmp_path: Path):
    (tmp_path / "bn.yaml").write_text(BATCH_NORM)
    run_dir, summary = run_recipe(load_recipe(str(tmp_path / "bn.yaml")), tmp_path / "run")
    run = open_run(run_dir)
    assert run.model().buffers["1.num_batches_tracked"] == summary["steps"]
    assert evaluate(run)["test_loss"] == summary["test_loss"]


def test_load_weights_names_missing_buffers(tmp_path: Path):
    (tmp_path / "bn.yaml").write_text(BATCH_NORM)
    run = open_run(run_recipe(load_recipe(str(tmp_path / "bn.yaml")), tmp_path / "run")[0])
    state = {"model": run.state["model"], "buffers": {}}
    with pytest.raises(DataError, match=r"holds buffers \[\]; the recipe's model has \['1.num"):
        load_weights(run.model(), state, "ckpt")
