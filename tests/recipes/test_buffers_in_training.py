"""Buffers through the plugins: optimizers leave them alone, the trainer saves them, the twin."""

from __future__ import annotations

import copy
import io

import torch
from corebp_optim.sgd import SGD

from corebp import BatchNorm1d
from corebp.training import checkpoint


def test_an_optimizer_step_never_touches_buffers() -> None:
    layer = BatchNorm1d(3)
    opt = SGD(layer.params, layer.grads, lr=0.5, momentum=0.9, weight_decay=0.1)
    layer(torch.randn(5, 3) * 2 + 1)
    layer.backward(torch.randn(5, 3))
    before = {k: v.clone() for k, v in layer.buffers.items()}
    opt.step()
    assert set(opt.state) == {"W", "b"}
    assert all(torch.equal(before[k], v) for k, v in layer.buffers.items())


BN_RECIPE = """\
model:
  - {type: linear, in_features: 2, out_features: 8}
  - {type: batch_norm1d, num_features: 8}
  - {type: relu}
  - {type: linear, in_features: 8, out_features: 3}
loss: {type: cross_entropy}
optimizer: {type: sgd, lr: 0.1, momentum: 0.9}
data: {source: synthetic, batch_size: 16, args: {kind: spirals, num_classes: 3}}
train: {epochs: 1, seed: 0, device: cpu, dtype: float64}
"""


def _bn_trainer(tmp_path, *overrides: str):
    from corebp.recipe import load_recipe
    from corebp.training.trainer import Trainer

    recipe = tmp_path / "bn.yaml"
    recipe.write_text(BN_RECIPE)
    return Trainer(load_recipe(str(recipe), list(overrides)), progress="log")


def test_the_torch_twin_trains_a_batch_norm_model_in_lockstep(tmp_path) -> None:
    trainer = _bn_trainer(tmp_path, "checks.autograd={every: 1, twin: true}")
    summary = trainer.fit()
    assert summary["autograd_check"]["passed"]
    assert summary["torch_twin"]["max_parameter_difference"] <= 1e-12


def test_buffers_survive_a_checkpoint_round_trip(tmp_path) -> None:
    trainer = _bn_trainer(tmp_path)
    trainer.train_epoch(0)
    buffer = io.BytesIO()
    torch.save(checkpoint.capture(trainer), buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    assert (
        saved["buffers"].keys()
        == trainer.model.buffers.keys()
        == {
            "1.running_mean",
            "1.running_var",
            "1.num_batches_tracked",
        }
    )
    assert int(saved["buffers"]["1.num_batches_tracked"]) == trainer.step > 0
    fresh = copy.deepcopy(trainer.model)
    for name, b in fresh.buffers.items():
        b.zero_().add_(saved["buffers"][name])
    for name, p in fresh.params.items():
        p.zero_().add_(saved["model"][name])
    x = torch.randn(5, 2, dtype=torch.float64)
    assert torch.equal(fresh.eval()(x), trainer.model.eval()(x))
