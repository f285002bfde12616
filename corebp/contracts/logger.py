"""The logger contract: a sink for a run's metrics besides the run directory's metrics.jsonl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor

from corebp.contracts.run import TrainingRun
from corebp.markers import hookimpl


class Logger:
    """Base class of loggers, chosen in a recipe by `output.loggers: [name, ...]`.

    Built as `Logger(**args)` with the recipe, before the run directory exists: check the
    arguments and optional dependencies in the constructor. A logger is a listener of its
    run's training events (it sees the run as a `TrainingRun`); during `corebp run`:

    - `open(run_dir)` once, before the first epoch;
    - `step(run, loss)` every `every` training steps (0: never; `run.step` is the step's
      number), after the batch's backward and before the update, so `run.model.grads` hold
      that batch's gradients; `loss` is the batch's mean loss per example, a 0-dim tensor
      still on the device;
    - `epoch(run, metrics)` after each epoch with its metrics.jsonl row (`metrics["epoch"]`
      counts from 1), after every other plugin has added its keys;
    - `close()` once at the end, also when training failed.

    A subclass may listen to further training events with `@corebp.hookimpl` methods.
    """

    #: Training steps between `step` calls; 0 never calls it.
    every: int = 0

    def open(self, run_dir: Path) -> None:
        """Start writing into (a file or folder inside) the run directory."""

    def step(self, run: TrainingRun, loss: Tensor) -> None:
        """Record one training step (see the class docstring for when it is called)."""

    def epoch(self, run: TrainingRun, metrics: dict[str, Any]) -> None:
        """Record one epoch's metrics, the row metrics.jsonl gets."""

    def close(self) -> None:
        """Flush and release what `open` acquired."""

    @hookimpl
    def corebp_after_backward(self, run: TrainingRun, y: Tensor, loss: Tensor) -> None:
        if self.every > 0 and run.step % self.every == 0:
            n = y.shape[0]
            self.step(run, run.loss.summed_over_examples(loss, n) / n)

    @hookimpl(trylast=True)
    def corebp_epoch_end(self, run: TrainingRun, metrics: dict[str, Any]) -> None:
        self.epoch(run, metrics)
