"""A recipe run writes every promised file, and its autograd check and twin report honestly."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import matplotlib.image
import pytest
import torch
from corebp_example import Lion
from corebp_optim import SGD

from corebp.checks.autograd import AutogradCheck, AutogradMismatch, TorchTwin
from corebp.errors import ConfigError
from corebp.layers import Linear, Sigmoid
from corebp.layers.sequential import Sequential
from corebp.losses import MSELoss
from corebp.recipe import load_recipe
from corebp.training.progress import live
from corebp.training.run import run_recipe
from corebp.training.trainer import Trainer
from corebp.util import source
from tests.recipes.conftest import RUN_FILES


def test_a_run_writes_every_file_and_a_complete_summary(synthetic_recipe: Path, tmp_path: Path):
    out = tmp_path / "run"
    path, summary = run_recipe(load_recipe(str(synthetic_recipe)), out)
    assert path == out and {p.name for p in out.iterdir()} == RUN_FILES

    assert json.loads((out / "summary.json").read_text()) == summary
    for key in ("test_accuracy", "train_accuracy", "epochs", "seconds", "autograd_check"):
        assert key in summary
    assert summary["epochs"] == 2 and 0 <= summary["test_accuracy"] <= 100
    check = summary["autograd_check"]
    assert check["passed"] and check["steps_checked"] == summary["steps"]
    assert check["max_rel_error"] <= 1e-4

    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    for key in ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds"):
        assert all(key in r for r in rows)
    assert rows[-1]["test_accuracy"] == summary["test_accuracy"]

    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["seed"] == 0 and provenance["torch"] == torch.__version__
    assert any(p["name"] == "data" for p in provenance["plugins"])
    # What a chaotic run's digits depend on (corebp.util.source): the code and the arithmetic.
    assert provenance["commit"] == source.commit()
    assert provenance["torch_threads"] == torch.get_num_threads()
    assert provenance["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert provenance["cpu"] == source.processor() != ""

    for png in ("loss.png", "accuracy.png", "weights.png"):
        image = matplotlib.image.imread(out / png)
        assert image.ndim == 3 and min(image.shape[:2]) >= 100


def test_the_checkpoint_loads_without_unpickling_and_holds_the_trained_weights(
    synthetic_recipe: Path, tmp_path: Path
):
    loaded = load_recipe(str(synthetic_recipe))
    run_recipe(loaded, tmp_path / "run")
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 2 and state["step"] > 0
    assert set(state["rng"]) >= {"torch", "shuffle"}
    assert state["optimizer"]["steps"] == state["step"]
    assert state["recipe"]["optimizer"] == {"type": "sgd", "lr": 0.1}

    # The same recipe and seed retrain to the same weights.
    again = Trainer(loaded, progress="log")
    again.fit()
    for name, p in again.model.params.items():
        assert torch.equal(state["model"][name], p)


def test_an_existing_non_empty_output_dir_is_refused_before_training(
    synthetic_recipe: Path, tmp_path: Path
):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="already exists and is not empty"):
        run_recipe(load_recipe(str(synthetic_recipe)), tmp_path / "run")
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["keep.txt"]


def test_float64_gradients_match_autograd_to_1e_10(synthetic_recipe: Path):
    loaded = load_recipe(str(synthetic_recipe), ["train.dtype=float64", "train.epochs=1"])
    summary = Trainer(loaded, progress="log").fit()
    assert summary["autograd_check"]["rtol"] == 1e-10
    assert summary["autograd_check"]["max_rel_error"] <= 1e-10


def test_the_torch_twin_trains_to_the_same_weights_and_accuracy(synthetic_recipe: Path):
    loaded = load_recipe(
        str(synthetic_recipe), ["checks.autograd.twin=true", "optimizer.momentum=0.9"]
    )
    summary = Trainer(loaded, progress="log").fit()
    twin = summary["torch_twin"]
    assert twin["max_parameter_difference"] < 1e-4
    assert twin["test_accuracy"] == pytest.approx(summary["test_accuracy"], abs=0.5)


def test_a_twin_needs_an_optimizer_that_declares_a_torch_counterpart():
    model, loss = Sequential(Linear(4, 2)), MSELoss()
    with pytest.raises(ConfigError, match=r"optimizer Lion declares no torch\.optim counterpart"):
        TorchTwin(model, loss, Lion, {}, lr=0.1)
    with pytest.raises(ConfigError, match=r"torch\.optim\.SGD takes no betas"):
        TorchTwin(model, loss, SGD, {"betas": [0.9, 0.99]}, lr=0.1)


def test_loading_a_recipe_rejects_a_twin_the_optimizer_cannot_have(synthetic_recipe: Path):
    with pytest.raises(ConfigError, match=r"optimizer Lion declares no torch\.optim counterpart"):
        load_recipe(str(synthetic_recipe), ["optimizer.type=lion", "checks.autograd.twin=true"])
    load_recipe(str(synthetic_recipe), ["optimizer.type=lion"])  # without the twin: fine


def test_the_as_written_rule_differs_from_autograd_and_is_reported_not_fatal(
    synthetic_recipe: Path,
):
    loaded = load_recipe(
        str(synthetic_recipe), ["model.1.type=sigmoid_as_written", "train.epochs=1"]
    )
    check = Trainer(loaded, progress="log").fit()["autograd_check"]
    assert not check["exact_gradient"] and not check["passed"]
    assert check["max_rel_error"] > 1e-2 and "expected" in check["note"]


class _WrongSigmoid(Sigmoid):
    """Claims exactness but forgets the (1 − y) factor."""

    def _backward(self, y, grad_output, input_grad):
        return grad_output * y


def test_a_wrong_backward_stops_training_with_the_step_and_parameter():
    torch.manual_seed(0)
    model = Sequential(Linear(4, 3), _WrongSigmoid(), Linear(3, 2), Sigmoid())
    loss = MSELoss(reduction="sum", scale=0.5)
    x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    loss.forward(model.forward(x), y)
    model.backward(loss.backward(), input_grad=False)
    with pytest.raises(AutogradMismatch, match=r"step 7, parameter '0\.W'"):
        AutogradCheck(model, loss).compare(7, x, y)


def test_the_run_draws_and_shows_the_numeric_metrics_the_recipe_lists(
    synthetic_recipe: Path, tmp_path: Path
):
    metrics = "metrics=[{type: top_k_accuracy, k: 2}, per_class_accuracy]"
    loaded = load_recipe(str(synthetic_recipe), [metrics, "train.epochs=1"])
    run_recipe(loaded, tmp_path / "run")
    pictures = {p.name for p in (tmp_path / "run").glob("*.png")}
    assert pictures == {"top_k_accuracy.png", "weights.png"}
    trainer = Trainer(loaded, progress="log")
    trainer.train_epoch(0)
    assert set(live(trainer.train_metrics)) == {"top_k_accuracy"}


def test_run_prints_its_directory_before_the_first_epoch(
    synthetic_recipe: Path, tmp_path: Path, corebp_cli
):
    out = tmp_path / "run"
    code, stdout, err = corebp_cli("run", str(synthetic_recipe), "-o", str(out))
    assert code == 0, err
    first, second = err.splitlines()[:2]
    assert first == f"run directory: {out}" and second.startswith("epoch 1/2")
    assert stdout.splitlines()[-1] == f"run directory: {out}"


def test_run_prints_the_recipes_note_after_its_directory(
    synthetic_recipe: Path, tmp_path: Path, corebp_cli
):
    out = tmp_path / "run"
    note = "note=Expect about 50 % on this toy problem."
    code, _, err = corebp_cli("run", str(synthetic_recipe), note, "-o", str(out))
    assert code == 0, err
    lines = err.splitlines()
    assert lines[:2] == [f"run directory: {out}", "note: Expect about 50 % on this toy problem."]
    assert lines[2].startswith("epoch 1/2")


def test_the_notebook_recipe_tells_its_user_that_75_percent_is_expected():
    note = load_recipe("mnist-784-100-10").recipe.note
    assert note is not None and "75 %" in note and "expected result" in note
    assert load_recipe("mnist-784-100-10-tuned").recipe.note is None


def test_the_processor_is_named_by_vendor_family_and_model(tmp_path: Path):
    """MKL picks its code path by the processor, so a measured run records it."""
    intel, arm = tmp_path / "intel", tmp_path / "arm"
    intel.write_text(
        "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 106\n"
        "model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz\n\n"
        "processor\t: 1\nvendor_id\t: OtherVendor\n"
    )
    arm.write_text("processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n")
    assert source.processor(intel) == (
        "GenuineIntel family 6 model 106 (Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz)"
    )
    assert source.processor(arm) == (platform.processor() or platform.machine())
    assert source.processor(tmp_path / "missing") == (platform.processor() or platform.machine())
