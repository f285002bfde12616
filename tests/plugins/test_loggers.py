"""Loggers: a component kind chosen by output.loggers; what TensorBoard's files hold."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from corebp.errors import ConfigError
from corebp.plugins import load_registry
from corebp.recipe import load_recipe
from corebp.training.run import run_recipe
from tests.recipes.conftest import write_synthetic_recipe

RECORDER = """
from corebp.hookspecs import hookimpl
from corebp.contracts.logger import Logger

CALLS = []


class Recorder(Logger):
    def __init__(self, every=5):
        self.every = every

    def open(self, run_dir):
        CALLS.append(("open", run_dir.name))

    def step(self, run, loss):
        nonzero = all(bool(g.abs().sum() > 0) for g in run.model.grads.values())
        CALLS.append(("step", run.step, float(loss), nonzero))

    def epoch(self, run, metrics):
        CALLS.append(("epoch", metrics["epoch"], metrics["test_accuracy"], "alignment" in metrics))

    def close(self):
        CALLS.append(("close",))


@hookimpl
def corebp_register_loggers():
    return {"recorder": Recorder}


@hookimpl
def corebp_epoch_end(metrics):
    metrics["alignment"] = {"0.W": 0.25, "2.W": 0.5}
"""


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    """The synthetic recipe, 3 epochs, no checks, plots or checkpoint."""
    overrides = ["train.epochs=3", "checks.autograd=null", "output.plots=false"]
    return write_synthetic_recipe(tmp_path / "spirals.yaml", *overrides, "output.checkpoint=false")


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_logger_gets_open_steps_with_gradients_epochs_and_close(make_plugin, recipe, tmp_path):
    make_plugin("recorder", RECORDER)
    reg = load_registry()
    loaded = load_recipe(str(recipe), ["output.loggers=[{type: recorder, every: 7}]"], reg=reg)
    run, summary = run_recipe(loaded, tmp_path / "run", reg=reg)
    calls = sys.modules["corebp_test_recorder"].CALLS
    steps = [c for c in calls if c[0] == "step"]
    assert calls[0] == ("open", "run") and calls[-1] == ("close",)
    assert [c[1] for c in steps] == list(range(0, summary["steps"], 7))
    assert all(c[3] for c in steps), "step() must see this batch's gradients, before zero_grad"
    assert all(0 < c[2] < 2 for c in steps)  # a mean per example: 0.5·Σ over 3 outputs < 1.5
    epochs = [c for c in calls if c[0] == "epoch"]
    assert epochs == [("epoch", r["epoch"], r["test_accuracy"], True) for r in _rows(run)]


def test_tensorboard_logs_the_step_loss_every_n_steps_and_histograms_of_every_param(
    recipe, tmp_path
):
    """The epoch metrics as TensorBoard shows them: tests/plugins/test_tensorboard_ui.py."""
    pytest.importorskip("tensorboard", reason="tensorboard (corebp[tensorboard]) not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    overrides = ["output.loggers=[{type: tensorboard, every: 10}]"]
    run, summary = run_recipe(load_recipe(str(recipe), overrides), tmp_path / "r")
    events = EventAccumulator(str(run / "tensorboard")).Reload()
    losses = events.Scalars("step/train_loss")
    assert [e.step for e in losses] == list(range(0, summary["steps"], 10))
    assert all(0 < e.value < 2 for e in losses)  # a mean per example, as the Recorder sees it
    histograms = set(events.Tags()["histograms"])
    assert histograms == {
        f"{kind}/{p}" for kind in ("weights", "gradients") for p in ["0.W", "0.b", "2.W", "2.b"]
    }


def test_corebp_run_with_loggers_override_writes_event_files(recipe, tmp_path, monkeypatch):
    pytest.importorskip("tensorboard", reason="tensorboard (corebp[tensorboard]) not installed")
    from corebp.cli import main

    out = tmp_path / "run"
    argv = ["corebp", "run", str(recipe), "output.loggers=[tensorboard]", "-o", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as done:
        main.main()
    assert done.value.code in (0, None)
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))


def test_a_missing_tensorboard_names_the_extra_before_the_run_dir_exists(
    recipe, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # makes `import tensorboard` fail
    loaded = load_recipe(str(recipe), ["output.loggers=[tensorboard]"])
    with pytest.raises(
        ConfigError, match=r"output.loggers.0: .*pip install 'corebp\[tensorboard\]'"
    ):
        run_recipe(loaded, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_an_unknown_logger_is_a_recipe_error_with_a_suggestion(recipe):
    with pytest.raises(ConfigError, match=r"output.loggers.0.type: 'tensorbord' .*'tensorboard'"):
        load_recipe(str(recipe), ["output.loggers=[tensorbord]"])


def test_a_logger_changes_nothing_in_training(recipe, tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard (corebp[tensorboard]) not installed")
    keep = ["output.checkpoint=true"]
    plain = run_recipe(load_recipe(str(recipe), keep), tmp_path / "plain")[0]
    logged = ["output.loggers=[{type: tensorboard, every: 1}]", *keep]
    watched = run_recipe(load_recipe(str(recipe), logged), tmp_path / "watched")[0]
    a = torch.load(plain / "checkpoint.pt", weights_only=True)
    b = torch.load(watched / "checkpoint.pt", weights_only=True)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert _rows(plain)[-1]["test_accuracy"] == _rows(watched)[-1]["test_accuracy"]


def test_a_failed_run_still_closes_its_loggers(make_plugin, recipe, tmp_path):
    make_plugin("recorder", RECORDER)
    make_plugin(
        "breaker",
        "from corebp.hookspecs import hookimpl\n\n\n"
        "@hookimpl\ndef corebp_epoch_start(epoch):\n"
        "    if epoch == 1:\n        raise RuntimeError('boom')\n",
    )
    reg = load_registry()
    loaded = load_recipe(str(recipe), ["output.loggers=[{type: recorder, every: 0}]"], reg=reg)
    with pytest.raises(Exception, match="boom"):
        run_recipe(loaded, tmp_path / "run", reg=reg)
    calls = sys.modules["corebp_test_recorder"].CALLS
    assert [c[0] for c in calls] == ["open", "epoch", "close"]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "failed"
