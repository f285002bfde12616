"""Showing a run's progress: a tqdm bar with live loss/accuracy on a terminal, log lines otherwise.

Both are run listeners (`assemble` registers one on the process that writes): `EpochLines`
prints one line per epoch, `ProgressBar` also draws a bar through each epoch. The bar's loss
and accuracy are read from the device-side metrics only every `refresh_seconds`, so the
training loop is not made to wait for the device on each step.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from tqdm import tqdm

from corebp.contracts.metric import Metric
from corebp.hookspecs import TrainingRun, hookimpl


def wants_bar(mode: str) -> bool:
    """`auto` shows a bar only when stderr is a terminal."""
    return mode == "bar" or (mode == "auto" and sys.stderr.isatty())


def epoch_line(epoch: int, epochs: int, row: dict[str, Any]) -> str:
    """One log line for an epoch's metrics (numbers only; dict/list metrics are left out)."""
    parts = [f"epoch {epoch + 1}/{epochs}"]
    parts += [
        f"{k} {v:.4g}" for k, v in row.items() if k != "epoch" and isinstance(v, (int, float))
    ]
    return " | ".join(parts)


def live(metrics: dict[str, Metric]) -> dict[str, float]:
    """The metrics that are single numbers, as they stand (for the progress bar)."""
    values = {k: m.compute() for k, m in metrics.items()}
    return {k: v for k, v in values.items() if isinstance(v, (int, float))}


class EpochLines:
    """One line on stderr per epoch, after every other listener has added its metrics."""

    @hookimpl(trylast=True)
    def corebp_epoch_end(self, run: TrainingRun, epoch: int, metrics: dict[str, Any]) -> None:
        self.end(epoch_line(epoch, run.recipe.train.epochs, metrics))

    def end(self, line: str) -> None:
        print(line, file=sys.stderr, flush=True)


class ProgressBar(EpochLines):
    """One tqdm bar per epoch, advanced once per training step, then the epoch's line."""

    #: Steps between looks at the clock.
    CHECK_EVERY = 25

    def __init__(
        self,
        steps_per_epoch: int,
        live: Callable[[], dict[str, float]],
        refresh_seconds: float = 0.5,
    ) -> None:
        self.steps_per_epoch = steps_per_epoch
        self.live = live
        self.refresh_seconds = refresh_seconds
        self.bar: tqdm | None = None
        self._count = 0
        self._last = 0.0

    @hookimpl
    def corebp_epoch_start(self, run: TrainingRun, epoch: int) -> None:
        self.start(epoch, run.recipe.train.epochs)

    @hookimpl
    def corebp_step_end(self) -> None:
        self.advance()

    def start(self, epoch: int, epochs: int) -> None:
        self.bar = tqdm(
            total=self.steps_per_epoch,
            desc=f"epoch {epoch + 1}/{epochs}",
            leave=False,
            dynamic_ncols=True,
        )
        self._last = time.monotonic()

    def advance(self) -> None:
        self._count += 1
        if self._count < self.CHECK_EVERY:
            return
        assert self.bar is not None
        self.bar.update(self._count)
        self._count = 0
        now = time.monotonic()
        if now - self._last >= self.refresh_seconds:
            self._last = now
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in self.live().items()}, refresh=False)

    def end(self, line: str) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self._count = 0
        tqdm.write(line, file=sys.stderr)
