"""MSELoss: scaled squared error, summed or averaged."""

from __future__ import annotations

from typing import Annotated, ClassVar

from torch import Tensor

from corebp.contracts.choices import OneOf
from corebp.contracts.loss import REDUCTIONS, Loss, check_reduction, one_hot, reduction_factor


class MSELoss(Loss):
    """L = scale · R((p − t)²), R = Σ ("sum") or mean over all elements ("mean").

    p: (N, C) prediction; t: (N, C) float target, or (N,) class indices made one-hot.
    Backward: dL/dp = 2 · scale · (p − t), divided by p.numel() for "mean".
    The notebook's 0.5·Σ(out − onehot)² is `MSELoss(reduction="sum", scale=0.5)`.

    Args:
        reduction: R: mean, the average over all N·C elements; sum, their total.
        scale: the factor in front of R; 0.5 cancels the 2 of the derivative.
    """

    check_args: ClassVar = [{}, {"reduction": "sum", "scale": 0.5}]

    def __init__(
        self, reduction: Annotated[str, OneOf(REDUCTIONS)] = "mean", scale: float = 1.0
    ) -> None:
        super().__init__()
        self.reduction = check_reduction("MSELoss", reduction)
        self.scale = float(scale)

    def _forward(self, prediction: Tensor, target: Tensor) -> tuple[Tensor, tuple[Tensor, float]]:
        diff = prediction - one_hot(self, prediction, target)
        flat = diff.reshape(-1)
        loss = flat.dot(flat)
        factor = reduction_factor(self.reduction, diff.numel(), self.scale)
        return loss.mul_(factor), (diff, factor)

    def _backward(self, ctx: tuple[Tensor, float]) -> Tensor:
        diff, factor = ctx
        c = 2 * factor
        return diff if c == 1.0 else diff.mul_(c)

    def reference(self, prediction: Tensor, target: Tensor) -> Tensor:
        t = one_hot(self, prediction, target)
        r = (prediction - t).pow(2)
        return self.scale * (r.sum() if self.reduction == "sum" else r.mean())

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, scale={self.scale:g}"
