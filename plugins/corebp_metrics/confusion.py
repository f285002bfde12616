"""Confusion matrix and the per-class accuracy read off it."""

from __future__ import annotations

import torch
from torch import Tensor

from corebp.contracts.metric import Metric


class ConfusionCounts(Metric):
    """C × C counts M[i][j] = #{n : y_n = i and argmax output_n = j}: rows are true classes.

    Counted on the device with a scatter-add (no host sync); targets must lie in [0, C).
    The metrics below share this counting and differ in what `compute` reads off `matrix()`.
    """

    def reset(self) -> None:
        self.counts: Tensor | None = None

    def update(self, output: Tensor, target: Tensor, loss: Tensor) -> None:
        c = self.num_classes
        if self.counts is None:
            self.counts = torch.zeros(c * c, dtype=torch.int64, device=output.device)
        cell = target * c + output.argmax(dim=1)
        self.counts.scatter_add_(0, cell, torch.ones_like(cell))

    def matrix(self) -> Tensor:
        c = self.num_classes
        if self.counts is None:
            return torch.zeros(c, c, dtype=torch.int64)
        return self.counts.view(c, c).cpu()


class ConfusionMatrix(ConfusionCounts):
    """The C × C matrix M itself, as nested lists (rows are true classes)."""

    def compute(self) -> list[list[int]]:
        return self.matrix().tolist()


class PerClassAccuracy(ConfusionCounts):
    """For each true class i: 100 · M[i][i] / Σ_j M[i][j]; None for a class with no samples."""

    def compute(self) -> list[float | None]:
        m = self.matrix()
        return [
            100.0 * hit / total if total else None
            for hit, total in zip(m.diagonal().tolist(), m.sum(dim=1).tolist(), strict=True)
        ]
