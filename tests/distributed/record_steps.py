"""Run by torchrun (2 ranks) or in one process: train one epoch of a recipe for each case
and save, from rank 0, every step's gradients as the after-backward hook sees them (the
model's and the learning rule's stored ones, as the all-reduce sums them) and the final
weights (the model's and the rule's), to OUT_DIR/<case>.pt.

    python record_steps.py OUT_DIR RECIPE '{"case": ["key=value", ...], ...}'

In one process, `record(..., shards=2)` computes each batch's gradients as two ranks do: the
backward of each part of `tensor_split(batch, 2)` on its own, then combined as the all-reduce
combines them. The arithmetic is then the same operation for operation, so the results can
be compared for equality.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from corebp.hookspecs import TrainingRun, hookimpl
from corebp.plugins import load_registry
from corebp.recipe import load_recipe
from corebp.training.assemble import resolve_device
from corebp.training.distributed import launched, reduced_grads
from corebp.training.trainer import Trainer


class Recorder:
    """Keeps a copy of the gradients each update will use."""

    def __init__(self) -> None:
        self.grads: list[dict[str, torch.Tensor]] = []

    @hookimpl(trylast=True)
    def corebp_after_backward(self, run: TrainingRun, x: torch.Tensor, y: torch.Tensor) -> None:
        grads = reduced_grads(run.model, run.learning_rule)
        self.grads.append({k: g.clone() for k, g in grads.items()})


class ShardSum:
    """Replaces the batch's gradients by those a data-parallel run over `shards` ranks
    all-reduces: each shard's own backward, summed (mean losses: weighted by examples, then
    divided by the batch's), in `DataParallel.all_reduce`'s order of operations."""

    def __init__(self, shards: int) -> None:
        self.shards = shards

    @hookimpl(tryfirst=True)
    def corebp_after_backward(self, run: TrainingRun, x: torch.Tensor, y: torch.Tensor) -> None:
        model, loss, rule = run.model, run.loss, run.learning_rule
        mean = loss.reduction != "sum"
        grads = reduced_grads(model, rule)
        total: dict[str, torch.Tensor] = {}
        parts = zip(x.tensor_split(self.shards), y.tensor_split(self.shards), strict=True)
        for xs, ys in parts:
            for g in grads.values():
                g.zero_()
            rule.train_step(model, loss, xs, ys)  # the loop's step (the rule's own, if it has one)
            for k, g in grads.items():
                part = g.mul(ys.shape[0]) if mean else g.clone()
                total[k] = part if k not in total else total[k].add_(part)
        for k, g in grads.items():
            g.copy_(total[k].div_(y.shape[0]) if mean else total[k])


def record(out: Path, recipe: str, cases: dict[str, list[str]], shards: int = 1) -> None:
    """Train each case in turn, inside one process group when torchrun started several."""
    first = load_recipe(recipe, next(iter(cases.values()))).recipe
    with launched(first, resolve_device(first.train.device)) as parallel:
        for name, overrides in cases.items():
            loaded = load_recipe(recipe, ["output.progress=log", *overrides])
            reg = load_registry()
            recorder = Recorder()
            reg.pm.register(recorder, name="recorder")
            if shards > 1:
                reg.pm.register(ShardSum(shards), name="shards")
            trainer = Trainer(loaded, reg, parallel=parallel)
            trainer.train_epoch(0)
            if trainer.writes:
                owned = trainer.model.params | trainer.learning_rule.params
                params = {k: p.clone() for k, p in owned.items()}
                torch.save({"grads": recorder.grads, "params": params}, out / f"{name}.pt")


if __name__ == "__main__":
    record(Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]))
