"""The run's own listeners: what happens between the loop's steps, as hooks.

The loop (`Trainer.train_epoch`) only trains; these listen to its events as a plugin's
listeners do (`corebp.hookspecs`), registered by `assemble` (the first three) or by
`corebp.training.run` (the last):

- `LearningRateSchedule` sets `optimizer.lr` for the coming update (`tryfirst`, registered
  after every other listener, so every hook sees the coming update's rate);
- `Guard`, the divergence guard: it keeps each step's loss on the device and reads them
  once every `DIVERGENCE_CHECK_EVERY` updates and at the end of each epoch, and stops the
  run between two steps when a stop was requested (`Interrupted`);
- `Checkpoints` saves the run every `output.checkpoint_every` updates and after each epoch,
  once the guard has passed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy
import torch
from torch import Tensor

from corebp.errors import Diverged, Interrupted
from corebp.hookspecs import TrainingRun, hookimpl

if TYPE_CHECKING:
    from corebp.contracts.schedule import Schedule
    from corebp.training.distributed import DataParallel

#: The divergence guard reads the losses every this many updates (and at each epoch's end
#: and before every checkpoint), so that the loop never waits for the device on each step.
DIVERGENCE_CHECK_EVERY = 64


class LearningRateSchedule:
    """Before each update, `optimizer.lr` is the schedule's rate at that update's number."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    @hookimpl(tryfirst=True)
    def corebp_after_backward(self, run: TrainingRun) -> None:
        run.optimizer.lr = self.schedule.lr_at(run.step)


class Guard:
    """The divergence guard, and where a run stops when asked to.

    Each step's loss is kept as it is (a 0-dim tensor on the device); `check` reads them all
    at once and raises `Diverged` naming the first update whose loss was not finite. A stop
    request (`stop_signal`, set by a signal handler) raises `Interrupted` after the current
    step. Data-parallel, the ranks agree in `check` (one small collective, at the same
    updates on every rank) on the first non-finite loss of any rank and on a stop request
    any rank received, so a stop waits for the next check and no rank waits for another.
    """

    def __init__(self, steps_per_epoch: int, parallel: DataParallel | None) -> None:
        self.steps_per_epoch, self.parallel = steps_per_epoch, parallel
        #: Set (to the signal number) to stop after the current step; see `Interrupted`.
        self.stop_signal: int | None = None
        self._losses: list[Tensor] = []
        self._first = 0  # the update number of _losses[0]

    @hookimpl
    def corebp_step_end(self, run: TrainingRun, loss: Tensor) -> None:
        if not self._losses:
            self._first = run.step - 1
        self._losses.append(loss)
        done = run.step
        if (
            done % DIVERGENCE_CHECK_EVERY == 0
            or done % self.steps_per_epoch == 0
            or (self.stop_signal is not None and self.parallel is None)
        ):
            self.check(done)

    def diverged_at(self) -> int | None:
        """The first update since the last check whose loss was not finite, or None."""
        if not self._losses:
            return None
        finite = torch.stack(self._losses).isfinite()
        if bool(finite.all()):
            return None
        return self._first + int(finite.logical_not().nonzero()[0, 0])

    def first_of(self, error: Diverged) -> Diverged:
        """`error`, or one naming an earlier update whose loss already was not finite (data-
        parallel, the ranks agreed on the first one)."""
        first = self.diverged_at() if self.parallel is None else None
        return error if first is None else Diverged(first, "the loss is not finite")

    def check(self, step: int) -> None:
        """After `step` updates: raise `Diverged` if a loss since the last check was not
        finite, else `Interrupted` if a stop was requested."""
        first = self.diverged_at()
        if self.parallel is not None:
            first, self.stop_signal = self.parallel.agree(step, first, self.stop_signal)
        if first is not None:
            raise Diverged(first, "the loss is not finite")
        self._losses.clear()
        if self.stop_signal is not None:
            raise Interrupted(self.stop_signal)


def stateful(events: pluggy.PluginManager) -> dict[str, Any]:
    """The run's listeners (and plugins) that have `state_dict()`, by registered name."""
    return {
        name: plugin
        for name, plugin in events.list_name_plugin()
        if callable(getattr(plugin, "state_dict", None))
    }


class Checkpoints:
    """`save()` every `every` updates (0: never) and after each epoch, once `guard` has
    checked the losses since its last check (a checkpoint holds finite state only)."""

    def __init__(self, guard: Guard, every: int, save: Callable[[], Any]) -> None:
        self.guard, self.every, self.save = guard, every, save

    @hookimpl(trylast=True)
    def corebp_step_end(self, run: TrainingRun) -> None:
        if self.every and run.step % self.every == 0:
            self.guard.check(run.step)
            self.save()

    @hookimpl(trylast=True)
    def corebp_epoch_end(self, run: TrainingRun) -> None:
        self.guard.check(run.step)
        self.save()
