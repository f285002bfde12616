"""Checkpoints: everything a run needs to continue exactly where it stopped.

`capture(trainer)` returns tensors and plain values only, so a checkpoint loads with
`torch.load(weights_only=True)` (no unpickling of code); `restore(trainer, state)` puts them
back into a freshly built Trainer of the same recipe. A checkpoint holds

- `model`: every parameter; `buffers`: every buffer of the model (`model.buffers`);
- `optimizer`: the optimizer's `state_dict()` (learning rate, step count, per-parameter
  state such as momentum buffers); schedules are functions of the step, which is saved;
- `rng`: torch's global generator (and CUDA's), the shuffle generator (mid-epoch as it was
  at the start of the epoch; between epochs as it is, the finished epoch's shuffle drawn),
  and every `torch.Generator` a layer holds (Dropout's);
  data-parallel, also `ranks`: each rank's own torch and layer generators, in rank order;
- `epoch` (epochs completed), `step` (updates done), `position` (updates done in the
  current epoch) and the current epoch's training `metrics` accumulated so far;
- `history`: the epoch rows of metrics.jsonl so far, `records`: its step rows so far (the
  alignment diagnostics');
- `learning_rule`: the learning rule's `state_dict()` (its generator and what it drew, such
  as feedback matrices), so a resumed run trains with the same B and the same later draws;
- `listeners`: the state of every run listener that has `state_dict()` (the autograd
  check's statistics and its torch twin).

A checkpoint taken mid-epoch continues by redrawing the epoch's shuffle from the saved
generator state and skipping the `position` batches already trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from corebp.errors import ConfigError

if TYPE_CHECKING:
    from corebp.training.trainer import Trainer

#: Bumped when the layout changes; a checkpoint of another format is refused.
FORMAT = 2


def _cpu(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to("cpu", copy=True)


def _generators(trainer: Trainer) -> dict[str, torch.Generator]:
    """Every generator a layer holds, by "<layer index>.<attribute>"."""
    return {
        f"{i}.{name}": value
        for i, layer in enumerate(trainer.model.layers)
        for name, value in vars(layer).items()
        if isinstance(value, torch.Generator)
    }


def _listeners(trainer: Trainer) -> dict[str, Any]:
    return {
        name: plugin
        for name, plugin in trainer.events.list_name_plugin()
        if callable(getattr(plugin, "state_dict", None))
    }


def capture(trainer: Trainer) -> dict[str, Any]:
    """The run's whole state, as tensors and plain values."""
    own: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "layers": {k: g.get_state() for k, g in _generators(trainer).items()},
    }
    if trainer.device.type == "cuda":
        own["cuda"] = torch.cuda.get_rng_state(trainer.device)
    position = trainer.step - len(trainer.history) * trainer.steps_per_epoch
    # Mid-epoch, the generator as it was when this epoch's shuffle was drawn (the shuffle is
    # drawn again and `position` batches skipped); between epochs, as it is now, after the
    # finished epoch's draw, so that the next epoch draws a new shuffle.
    shuffle = trainer.shuffle_state if position else trainer.generator.get_state()
    rng = own | {"shuffle": shuffle.clone()}
    if trainer.parallel is not None:  # a collective: every rank captures, rank 0 writes
        rng["ranks"] = trainer.parallel.gather(own)
    return {
        "format": FORMAT,
        "epoch": len(trainer.history),
        "step": trainer.step,
        "position": position,
        "model": {k: _cpu(p) for k, p in trainer.model.params.items()},
        "buffers": {k: _cpu(t) for k, t in trainer.model.buffers.items()},
        "optimizer": trainer.optimizer.state_dict(),
        "rng": rng,
        "metrics": {k: m.state_dict() for k, m in trainer.train_metrics.items()},
        "history": [dict(row) for row in trainer.history],
        "records": [dict(row) for row in trainer.records],
        "learning_rule": {k: _cpu(t) for k, t in trainer.learning_rule.state_dict().items()},
        "listeners": {k: p.state_dict() for k, p in _listeners(trainer).items()},
        "recipe": trainer.recipe.model_dump(mode="json"),
    }


def restore(trainer: Trainer, state: dict[str, Any]) -> None:
    """Put a `capture`d state back into `trainer` (built from the same recipe)."""
    params = trainer.model.params
    if state["model"].keys() != params.keys():
        raise ConfigError(
            f"checkpoint: holds parameters {sorted(state['model'])} but the recipe's model has "
            f"{sorted(params)}; resume with the recipe the run was started with."
        )
    with torch.no_grad():
        for k, p in params.items():
            p.copy_(state["model"][k])
        for k, t in trainer.model.buffers.items():
            t.copy_(state["buffers"][k])
    rng = state["rng"]
    world = trainer.parallel.world if trainer.parallel is not None else 1
    saved = len(rng.get("ranks", [rng]))
    if saved != world:
        raise ConfigError(
            f"checkpoint: written by a run over {saved} processes, resumed over {world}; "
            f"expected the same number (resume with torchrun --nproc_per_node={saved}"
            + (")." if saved > 1 else ", or without torchrun).")
        )
    trainer.optimizer.load_state_dict(state["optimizer"])
    if trainer.parallel is not None:  # each rank's own streams (its Dropout masks)
        rng = rng | rng["ranks"][trainer.parallel.rank]
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and trainer.device.type == "cuda":
        torch.cuda.set_rng_state(rng["cuda"], trainer.device)
    for k, g in _generators(trainer).items():
        g.set_state(rng["layers"][k])
    trainer.generator.set_state(rng["shuffle"])
    trainer.shuffle_state = rng["shuffle"].clone()
    for k, m in trainer.train_metrics.items():
        m.load_state_dict(
            {
                name: v.to(trainer.device) if isinstance(v, torch.Tensor) else v
                for name, v in state["metrics"][k].items()
            }
        )
    trainer.learning_rule.load_state_dict(state["learning_rule"])
    for k, p in _listeners(trainer).items():
        if k in state["listeners"]:
            p.load_state_dict(state["listeners"][k])
    trainer.history = [dict(row) for row in state["history"]]
    trainer.records = [dict(row) for row in state.get("records", [])]
    trainer.step = int(state["step"])
    trainer.epoch = len(trainer.history)
    trainer.resume_position = int(state["position"])


def load(path: Path) -> dict[str, Any]:
    """Read a checkpoint with `torch.load(weights_only=True)`; a bad file is a ConfigError."""
    if not path.is_file():
        raise ConfigError(
            f"{path}: no checkpoint; the run stopped before its first checkpoint (or was run "
            "with output.checkpoint=false), so it cannot be resumed: start it again with "
            "`corebp run`."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ConfigError(
            f"{path}: not a corebp checkpoint ({type(e).__name__}: {str(e).splitlines()[0]}); "
            "start the run again with `corebp run`."
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ConfigError(
            f"{path}: not a corebp checkpoint of format {FORMAT}; start the run again with "
            "`corebp run`."
        )
    return state
