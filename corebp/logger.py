"""The logger contract: a sink for a run's metrics besides the run directory's metrics.jsonl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor

from corebp.layer import Layer


class Logger:
    """Base class of loggers, chosen in a recipe by `output.loggers: [name, ...]`.

    Built as `Logger(**args)` with the recipe, before the run directory exists: check the
    arguments and optional dependencies in the constructor. Then, during `corebp run`:

    - `open(run_dir)` once, before the first epoch;
    - `step(step, loss, model)` every `every` training steps (0: never), after the batch's
      backward and before the update, so `model.grads` hold that batch's gradients; `loss`
      is the batch's mean loss per example, a 0-dim tensor still on the device;
    - `epoch(epoch, metrics)` after each epoch (counted from 1) with its metrics.jsonl row;
    - `close()` once at the end, also when training failed.
    """

    #: Training steps between `step` calls; 0 never calls it.
    every: int = 0

    def open(self, run_dir: Path) -> None:
        """Start writing into (a file or folder inside) the run directory."""

    def step(self, step: int, loss: Tensor, model: Layer) -> None:
        """Record one training step (see the class docstring for when it is called)."""

    def epoch(self, epoch: int, metrics: dict[str, Any]) -> None:
        """Record one epoch's metrics, the row metrics.jsonl gets."""

    def close(self) -> None:
        """Flush and release what `open` acquired."""
