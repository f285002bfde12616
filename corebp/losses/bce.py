"""BCELoss: binary cross-entropy on probabilities (e.g. after a Sigmoid)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import torch
from torch import Tensor

from corebp.contracts.choices import OneOf
from corebp.contracts.loss import REDUCTIONS, Loss, check_reduction, reduction_factor
from corebp.errors import ConfigError, ShapeError


class BCELoss(Loss):
    """L = −R(t ⊙ log q + (1 − t) ⊙ log(1 − q)), q = clamp(p, eps, 1 − eps); p, t: same shape.

    p holds probabilities, t targets in [0, 1] (integer 0/1 targets are converted); R is the
    mean ("mean") or the sum ("sum") over all elements. Backward: dL/dp = (q − t) / (q(1 − q)),
    divided by p.numel() for "mean". The clamp keeps log finite at p = 0 or 1; outside
    [eps, 1 − eps] the backward passes this gradient straight through the clamp (so a
    saturated output still learns), where the reference's clamp would give 0.

    Args:
        reduction: R: mean, the average over all elements; sum, their total.
        eps: the clamp's margin, in (0, 0.5): q stays in [eps, 1 − eps].
    """

    check_args: ClassVar = [{}, {"reduction": "sum", "eps": 1e-3}]

    def __init__(
        self, reduction: Annotated[str, OneOf(REDUCTIONS)] = "mean", eps: float = 1e-7
    ) -> None:
        super().__init__()
        self.reduction = check_reduction("BCELoss", reduction)
        if not 0 < eps < 0.5:
            raise ConfigError(f"BCELoss: eps={eps!r} must lie in (0, 0.5), e.g. 1e-7.")
        self.eps = float(eps)

    def _forward(self, prediction: Tensor, target: Tensor) -> tuple[Tensor, Any]:
        if target.shape != prediction.shape:
            raise ShapeError(
                f"{self!r}: target shape {tuple(target.shape)} does not match prediction shape "
                f"{tuple(prediction.shape)}; pass one target in [0, 1] per prediction."
            )
        t = target if target.dtype == prediction.dtype else target.to(prediction.dtype)
        q = prediction.clamp(self.eps, 1 - self.eps)
        log_q, log_1mq = q.log(), torch.log1p(-q)
        # t·log q + (1 − t)·log(1 − q) = log(1 − q) + t·(log q − log(1 − q))
        ll = log_1mq.add_(log_q.sub_(log_1mq).mul_(t))
        scale = reduction_factor(self.reduction, prediction.numel())
        return ll.sum().mul_(-scale), (q, t, scale)

    def _backward(self, ctx: Any) -> Tensor:
        q, t, scale = ctx
        grad = (q - t).div_((1 - q).mul_(q))
        return grad if scale == 1.0 else grad.mul_(scale)

    def example_inputs(
        self, shape: tuple[int, ...], *, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Probabilities in (0.05, 0.95), away from the clamp, and targets in [0, 1]."""
        p = torch.rand(shape, dtype=torch.float64, generator=generator).mul_(0.9).add_(0.05)
        return p, torch.rand(shape, dtype=torch.float64, generator=generator)

    def reference(self, prediction: Tensor, target: Tensor) -> Tensor:
        q = prediction.clamp(self.eps, 1 - self.eps)
        t = target.to(prediction.dtype)
        ll = t * torch.log(q) + (1 - t) * torch.log(1 - q)
        return -(ll.mean() if self.reduction == "mean" else ll.sum())

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, eps={self.eps:g}"
