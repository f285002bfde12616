"""TensorBoard event files in RUN_DIR/tensorboard/, written by torch's SummaryWriter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor

from corebp.contracts.logger import Logger
from corebp.errors import ConfigError
from corebp.hookspecs import TrainingRun
from corebp.util.optional import require


def scalars(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Every number in a metrics row, nested dicts flattened to "key/inner" (lists skipped)."""
    found: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            found |= scalars(value, f"{prefix}{key}/")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            found[prefix + key] = float(value)
    return found


class TensorBoardLogger(Logger):
    """Per-epoch metrics, the training loss every `every` steps, weight and gradient histograms.

    Scalars (classic float32 `simple_value` summaries, which TensorBoard's scalars dashboard and
    `EventAccumulator.Scalars` read): each number of the metrics.jsonl row (`test_accuracy`,
    `lr`, alignment metrics a plugin adds, nested dicts as `key/inner`) at the epoch number, and
    `step/train_loss` (mean per example) at the step number. TensorBoard stores scalars in
    float32; metrics.jsonl holds the exact float64 values. With `histograms`: `weights/<name>`
    and `gradients/<name>` (this batch's, before the update) at the step number.

    Args:
        every: the updates between two `step/train_loss` points (and histograms), ≥ 0;
            0: no per-step logs, only the epoch metrics.
        histograms: whether to write the weight and gradient histograms at those steps.
    """

    def __init__(self, every: int = 100, histograms: bool = True) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 0:
            raise ConfigError(
                f"every={every!r}; expected a whole number of steps >= 0 (0: no per-step logs)."
            )
        require("tensorboard", "tensorboard", "output.loggers: tensorboard")
        self.every = every
        self.histograms = histograms
        self.writer: Any = None

    def open(self, run_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))

    def step(self, run: TrainingRun, loss: Tensor) -> None:
        step = run.step
        self.writer.add_scalar("step/train_loss", loss, step)
        if self.histograms:
            for name, p, g in run.model.named_params():
                self.writer.add_histogram(f"weights/{name}", p, step)
                self.writer.add_histogram(f"gradients/{name}", g, step)

    def epoch(self, run: TrainingRun, metrics: dict[str, Any]) -> None:
        epoch = metrics["epoch"]
        for tag, value in scalars({k: v for k, v in metrics.items() if k != "epoch"}).items():
            self.writer.add_scalar(tag, value, epoch)
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
