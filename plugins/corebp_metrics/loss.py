"""Loss: the mean loss per sample over an epoch."""

from __future__ import annotations

import torch
from torch import Tensor

from corebp.contracts.metric import Metric


class Loss(Metric):
    """Σ_batches loss_sum / Σ_batches N: every sample weighs the same, whatever its batch size.

    Sums accumulate on the device in float64.
    """

    def reset(self) -> None:
        self.total: Tensor | None = None
        self.count = 0

    def update(self, output: Tensor, target: Tensor, loss: Tensor) -> None:
        if self.total is None:
            self.total = torch.zeros((), dtype=torch.float64, device=loss.device)
        self.total.add_(loss.detach())
        self.count += target.shape[0]

    def compute(self) -> float:
        return float(self.total) / self.count if self.total is not None else float("nan")
