"""Checkpoints: everything a run needs to continue exactly where it stopped.

`capture(trainer)` is the Trainer's `state_dict()`, tensors and plain values only, so a
checkpoint loads with `torch.load(weights_only=True)` (no unpickling of code);
`restore(trainer, state)` checks that it fits a freshly built Trainer of the same recipe
and hands it to `load_state_dict()`. A checkpoint holds

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

import pickle
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from corebp.errors import ConfigError, DataError

if TYPE_CHECKING:
    from corebp.training.trainer import Trainer

#: Bumped when the layout changes; a checkpoint of another format is refused.
FORMAT = 2


def capture(trainer: Trainer) -> dict[str, Any]:
    """The run's whole state, as tensors and plain values (`Trainer.state_dict`)."""
    return {"format": FORMAT} | trainer.state_dict()


def restore(trainer: Trainer, state: dict[str, Any]) -> None:
    """Put a `capture`d state back into `trainer` (built from the same recipe), once it is
    known to fit it (`Trainer.load_state_dict`)."""
    params = trainer.model.params
    if state["model"].keys() != params.keys():
        raise ConfigError(
            f"checkpoint: holds parameters {sorted(state['model'])} but the recipe's model has "
            f"{sorted(params)}; resume with the recipe the run was started with."
        )
    rng = state["rng"]
    world = trainer.parallel.world if trainer.parallel is not None else 1
    saved = len(rng.get("ranks", [rng]))
    if saved != world:
        raise ConfigError(
            f"checkpoint: written by a run over {saved} processes, resumed over {world}; "
            f"expected the same number (resume with torchrun --nproc_per_node={saved}"
            + (")." if saved > 1 else ", or without torchrun).")
        )
    trainer.load_state_dict(state)


#: What torch's safe unpickler says of a pickle that refers to code (a global, a call).
_CODE = re.compile(r"GLOBAL ([\w.]+)|reduce for unrecognized function")


def read(path: Path) -> dict[str, Any]:
    """The checkpoint at `path`, read with `torch.load(weights_only=True)` and nothing else,
    its parameters and buffers checked to be tensors by name. A file that refers to code is
    refused before anything in it runs; any other file that is not a checkpoint, and one
    that cannot be read, is a `DataError` naming it."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        code = _CODE.search(str(e))
        if code is None:
            raise _damaged(path, e) from None
        what = f" (it refers to {code.group(1)!r})" if code.group(1) else ""
        raise DataError(
            f"{path}: refused: it holds a pickled Python object other than tensors and plain "
            f"values, which could run code when loaded{what}; expected a checkpoint written by "
            "`corebp run`. Fix: re-create it with `corebp run`; never load it with "
            "weights_only=False unless you trust its origin."
        ) from None
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or e}).") from None
    except Exception as e:  # torch.load fails on a damaged file in many ways
        raise _damaged(path, e) from None
    if not isinstance(state, dict):
        raise _damaged(path, f"it holds a {type(state).__name__}, not a dict")
    for key in ("model", "buffers"):
        tensors = state.get(key, {} if key == "buffers" else None)
        if not isinstance(tensors, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in tensors.items()
        ):
            raise _damaged(path, f"its {key!r} is not a dict of tensors by name")
    return state


def _damaged(path: Path, why: BaseException | str) -> DataError:
    if isinstance(why, BaseException):
        first = (str(why).splitlines() or [""])[0][:200]
        why = f"{type(why).__name__}: {first}" if first else type(why).__name__
    return DataError(
        f"{path}: damaged, or not a corebp checkpoint ({why}); expected the checkpoint.pt a "
        "run writes. Fix: re-create it with `corebp run` (or restore it from a copy)."
    )


def load(path: Path) -> dict[str, Any]:
    """The checkpoint a resume continues from (`read`, and of this corebp's format)."""
    if not path.is_file():
        raise ConfigError(
            f"{path}: no checkpoint; the run stopped before its first checkpoint (or was run "
            "with output.checkpoint=false), so it cannot be resumed: start it again with "
            "`corebp run`."
        )
    state = read(path)
    if state.get("format") != FORMAT:
        raise DataError(
            f"{path}: a checkpoint of format {state.get('format')!r}, and this corebp resumes "
            f"format {FORMAT} only; start the run again with `corebp run`."
        )
    return state
