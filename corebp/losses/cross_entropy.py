"""CrossEntropyLoss: softmax and negative log-likelihood fused, on logits and class indices."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import torch
from torch import Tensor

from corebp.contracts.choices import OneOf
from corebp.contracts.loss import (
    REDUCTIONS,
    Loss,
    check_reduction,
    class_targets,
    reduction_factor,
)


class CrossEntropyLoss(Loss):
    """L = R_n(log Σ_c e^{z_nc} − z_{n,t_n}); z: (N, C) logits, t: (N,) integer classes.

    R is the mean over the batch ("mean") or the sum ("sum"); log Σ e^z is computed stably
    (log-sum-exp, the row maximum subtracted first). Backward: dL/dz = (softmax(z) − onehot(t)),
    divided by N for "mean".

    Args:
        reduction: R: mean, the average over the batch's examples; sum, their total.
    """

    check_args: ClassVar = [{}, {"reduction": "sum"}]

    def __init__(self, reduction: Annotated[str, OneOf(REDUCTIONS)] = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction("CrossEntropyLoss", reduction)

    def _forward(self, prediction: Tensor, target: Tensor) -> tuple[Tensor, Any]:
        index = class_targets(self, prediction, target).unsqueeze(1)
        log_p = torch.log_softmax(prediction, dim=1)
        picked = log_p.gather(1, index)
        scale = reduction_factor(self.reduction, prediction.shape[0])
        return picked.sum().mul_(-scale), (log_p, index, picked, scale)

    def _backward(self, ctx: Any) -> Tensor:
        log_p, index, picked, scale = ctx
        grad = log_p.exp_().scatter_(1, index, picked.exp_().sub_(1))
        return grad if scale == 1.0 else grad.mul_(scale)

    def example_inputs(
        self, shape: tuple[int, ...], *, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """Standard-normal logits and random class indices in [0, C)."""
        logits = torch.randn(shape, dtype=torch.float64, generator=generator)
        return logits, torch.randint(shape[1], (shape[0],), generator=generator)

    def reference(self, prediction: Tensor, target: Tensor) -> Tensor:
        nll = prediction.logsumexp(dim=1) - prediction.gather(1, target.unsqueeze(1)).squeeze(1)
        return nll.mean() if self.reduction == "mean" else nll.sum()

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
