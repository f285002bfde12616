"""The Trainer: what its reported loss is, that the schedule drives every update, and that it
changes no process-wide float setting outside training."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from corebp.losses import REGISTRY as LOSSES
from corebp.recipe import load_recipe
from corebp.training.assemble import _flushing_denormals, denormals_flushed
from corebp.training.trainer import Trainer

N, C = 7, 3


def _hand_per_example(name: str, reduction: str, p: torch.Tensor, t: torch.Tensor):
    """Each example's own loss, written out from the formulas in docs/layers.md."""
    if name == "cross_entropy":  # one term per example, so mean and sum agree
        return torch.log(torch.exp(p).sum(1)) - p[torch.arange(len(t)), t]
    mse = name == "mse"  # MSELoss(scale=1), else BCELoss
    terms = (p - t) ** 2 if mse else -(t * torch.log(p) + (1 - t) * torch.log(1 - p))
    return terms.sum(1) if reduction == "sum" else terms.mean(1)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name", ["mse", "bce", "cross_entropy"])
def test_a_loss_summed_over_examples_is_the_sum_of_each_examples_own_loss(name, reduction):
    loss = LOSSES[name](reduction=reduction)
    p, t = loss.example_inputs((N, C), generator=torch.Generator().manual_seed(0))
    hand = _hand_per_example(name, reduction, p, t)
    alone = torch.stack([loss(p[n : n + 1], t[n : n + 1]) for n in range(N)])
    torch.testing.assert_close(alone, hand, rtol=1e-12, atol=0)
    summed = loss.summed_over_examples(loss(p, t), N)
    torch.testing.assert_close(summed, hand.sum(), rtol=1e-12, atol=0)


BLOBS = """\
model:
  - {type: linear, in_features: 2, out_features: 3, init: xavier}
  - {type: sigmoid}
loss: {type: mse}
optimizer: {type: sgd, lr: 0.0}
data: {source: synthetic, batch_size: 16, eval_batch_size: 7, args: {kind: blobs}}
train: {epochs: 1, seed: 0, device: cpu, dtype: float64}
metrics: [loss]
output: {progress: log}
"""


@pytest.fixture
def blobs(tmp_path: Path) -> Path:
    path = tmp_path / "blobs.yaml"
    path.write_text(BLOBS)
    return path


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name", ["mse", "cross_entropy"])
def test_the_reported_loss_is_the_mean_over_examples_of_each_examples_own_loss(
    blobs: Path, name: str, reduction: str
):
    # lr 0: the weights stay put, so the training loss is a fixed model's too; batches of 16
    # (training) and 7 (evaluation) do not divide the splits, so unequal batches are weighed.
    trainer = Trainer(load_recipe(str(blobs), [f"loss={{type: {name}, reduction: {reduction}}}"]))
    row = {}
    trainer.fit(on_epoch_end=row.update)
    for split in ("train", "test"):
        (x, y), *rest = trainer.data.batches(split, 10**6)
        assert not rest and len(y) % 16 and len(y) % 7
        p = trainer.model.forward(x)
        t = y if name == "cross_entropy" else torch.eye(C, dtype=p.dtype)[y]
        hand = _hand_per_example(name, reduction, p, t).mean().item()
        assert row[f"{split}_loss"] == pytest.approx(hand, rel=1e-12)


def test_every_update_uses_the_schedules_learning_rate(blobs: Path):
    trainer = Trainer(load_recipe(str(blobs), ["optimizer.lr=0.5", "schedule={type: cosine}"]))
    optimizer, step = trainer.optimizer, trainer.optimizer.step
    used = []
    optimizer.step = lambda: (used.append(optimizer.lr), step())[1]  # type: ignore[method-assign]
    trainer.fit()
    assert trainer.schedule is not None and len(used) == trainer.total_steps > 1
    assert used == [trainer.schedule.lr_at(s) for s in range(trainer.total_steps)]
    assert used[0] == 0.5 and used[-1] < 0.01


@pytest.fixture
def denormals_kept() -> None:
    torch.set_flush_denormal(False)
    yield
    torch.set_flush_denormal(False)


@pytest.mark.parametrize("caller", [False, True])
def test_flushing_denormals_is_scoped_to_training_and_restored(blobs, denormals_kept, caller):
    torch.set_flush_denormal(caller)
    trainer = Trainer(load_recipe(str(blobs), ["train.flush_denormal=true"]))
    assert _flushing_denormals() is caller  # building a Trainer changes nothing
    optimizer, step = trainer.optimizer, trainer.optimizer.step
    during = []
    optimizer.step = lambda: (during.append(_flushing_denormals()), step())[1]  # type: ignore[method-assign]
    trainer.fit()
    assert during and all(during)
    assert _flushing_denormals() is caller

    off = Trainer(load_recipe(str(blobs), ["train.flush_denormal=false"]))
    off.optimizer.step = lambda: during.append(_flushing_denormals())  # type: ignore[method-assign]
    during.clear()
    off.fit()
    assert during == [caller] * off.total_steps
    assert _flushing_denormals() is caller


def test_denormals_flushed_restores_the_setting_when_the_block_raises(denormals_kept):
    with pytest.raises(RuntimeError), denormals_flushed():
        assert _flushing_denormals()
        raise RuntimeError
    assert not _flushing_denormals()
