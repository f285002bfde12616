"""Loss: the mean loss per sample over an epoch."""

from __future__ import annotations

import torch
from torch import Tensor

from corebp.metric import Metric


class Loss(Metric):
    """Σ_batches loss_sum / Σ_batches N: every sample weighs the same, whatever its batch size.

    Sums accumulate on the device in float64.
    """

    def reset(self) -> None:
        self.total: Tensor | float = 0.0
        self.count = 0

    def update(self, output: Tensor, target: Tensor, loss: Tensor) -> None:
        self.total = self.total + loss.detach().to(torch.float64)
        self.count += target.shape[0]

    def compute(self) -> float:
        return float(self.total) / self.count if self.count else float("nan")
