"""The divergence guard: a non-finite loss stops the run as diverged, exit 3 (acceptance 3)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from corebp import Linear, MSELoss, Sequential
from corebp.checks.autograd import AutogradCheck, AutogradMismatch
from corebp.errors import Diverged
from corebp.recipe import load_recipe
from corebp.training import listeners
from corebp.training.run import run_recipe
from corebp.training.trainer import Trainer


def strict(text: str):
    def refuse(constant: str):
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.mnist
def test_lr_1e6_on_the_relu_recipe_stops_as_diverged_with_exit_3_naming_the_step(tmp_path):
    out = tmp_path / "run"
    command = ["run", "mnist-784-100-relu-cross-entropy", "optimizer.lr=1e6", "-o", str(out)]
    proc = subprocess.run(
        [sys.executable, "-m", "corebp", *command, "--progress", "log"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.splitlines()[-1] == (
        "corebp: diverged: the loss is not finite at step 4 (counting updates from 0); lower "
        "optimizer.lr (or check the data), the last checkpoint holds the state before it"
    )
    summary = strict((out / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["step"] == 4


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    """A linear model under MSE at a huge learning rate: the loss overflows within steps."""
    path = tmp_path / "linear.yaml"
    path.write_text(
        "model: [{type: linear, in_features: 2, out_features: 3}]\n"
        "loss: {type: mse}\n"
        "optimizer: {type: sgd, lr: 1.0e+15}\n"
        "data: {source: synthetic, batch_size: 10}\n"
        "train: {epochs: 1, device: cpu}\n"
        "output: {progress: log, plots: false, checkpoint_every: 1}\n"
    )
    return path


def test_the_last_checkpoint_kept_is_the_one_before_the_non_finite_loss(recipe, tmp_path):
    with pytest.raises(Diverged, match="the loss is not finite") as e:
        run_recipe(load_recipe(str(recipe)), tmp_path / "run")
    assert 0 < e.value.step < 60
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert state["step"] == e.value.step  # written after the last update with a finite loss
    assert all(p.isfinite().all() for p in state["model"].values())
    summary = strict((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["step"] == e.value.step


def test_the_autograd_check_reports_non_finite_gradients_as_divergence_not_a_wrong_backward():
    model, loss = Sequential(Linear(2, 3)), MSELoss()
    x, y = torch.randn(4, 2), torch.randint(0, 3, (4,))
    model.layers[0].params["W"].fill_(float("inf"))
    model.backward(_loss_grad(model, loss, x, y))
    with pytest.raises(Diverged, match="autograd's is not finite either") as e:
        AutogradCheck(model, loss).compare(7, x, y)
    assert e.value.step == 7 and "the backward is not to blame" in str(e.value)


def test_a_non_finite_explicit_gradient_with_a_finite_autograd_one_is_still_a_mismatch():
    model, loss = Sequential(Linear(2, 3)), MSELoss()
    x, y = torch.randn(4, 2), torch.randint(0, 3, (4,))
    model.backward(_loss_grad(model, loss, x, y))
    model.grads["0.W"][0, 0] = float("nan")  # what a wrong backward would produce
    with pytest.raises(AutogradMismatch, match=r"'0\.W'"):
        AutogradCheck(model, loss).compare(0, x, y)


def _loss_grad(model, loss, x, y):
    loss.forward(model(x), y)
    return loss.backward()


def test_the_guard_reads_the_device_once_per_64_updates_not_every_step(
    synthetic_recipe, monkeypatch
):
    loaded = load_recipe(str(synthetic_recipe), ["data.batch_size=4", "checks.autograd=null"])
    trainer = Trainer(loaded, progress="log")  # 150 updates per epoch
    reads = []
    monkeypatch.setattr(trainer.guard, "check", lambda step: reads.append(trainer.step))
    trainer.train_epoch(0)
    assert reads == [64, 128, 150]
    assert listeners.DIVERGENCE_CHECK_EVERY == 64
