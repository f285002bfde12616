"""Accuracy: the percentage of samples whose true class is among the top-k outputs."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from corebp.contracts.metric import Metric
from corebp.errors import ConfigError


class TopKAccuracy(Metric):
    """100 · #{n : y_n is among the k largest outputs of sample n} / N, over all batches.

    Hits are counted on the device; `compute()` reads the count once.

    Args:
        k: how many of the largest outputs count as a hit, 1 ≤ k ≤ num_classes; 1 is
            plain accuracy.
    """

    check_args: ClassVar = [{}, {"k": 2}]

    def __init__(self, num_classes: int, k: int = 5) -> None:
        if not 1 <= k <= num_classes:
            raise ConfigError(
                f"{type(self).__name__}: k={k} must be between 1 and num_classes={num_classes}."
            )
        self.k = k
        super().__init__(num_classes)

    def reset(self) -> None:
        self.hits: Tensor | None = None
        self.count = 0

    def _hit(self, output: Tensor, target: Tensor) -> Tensor:
        """Per sample, whether the target is a hit (bool, (N,))."""
        return (output.topk(self.k, dim=1).indices == target[:, None]).any(dim=1)

    def update(self, output: Tensor, target: Tensor, loss: Tensor) -> None:
        hits = self._hit(output, target).sum()
        self.hits = hits if self.hits is None else self.hits.add_(hits)
        self.count += target.shape[0]

    def compute(self) -> float:
        return 100.0 * int(self.hits) / self.count if self.hits is not None else float("nan")


class Accuracy(TopKAccuracy):
    """Top-1 accuracy in percent: argmax of the output equals the target (ties: first index)."""

    check_args: ClassVar = [{}]

    def __init__(self, num_classes: int) -> None:
        super().__init__(num_classes, k=1)

    def _hit(self, output: Tensor, target: Tensor) -> Tensor:
        return output.argmax(dim=1) == target
