"""Direct random target projection (Frenkel, Lefebvre & Bol 2021, "Learning without feedback:
fixed random learning signals allow for feedforward training of deep neural networks"): every
hidden layer receives a fixed random projection of the batch's *target*, not of an error.

With y* the batch's target, one-hot (N, outputs) for class indices or the target tensor itself
for a float target (MSE), the output layer keeps its true error e = dL/dy for its own update,
and the error sent below the layer at position k is δx_k = y* B_k, reshaped to x_k's shape,
B_k: (outputs, inputs of layer k), fixed. The activation below multiplies it by its f′, so a
hidden layer's pre-activation receives δa = (y* B) ∘ f′(a), the authors' `labels.mm(B)`
(ChFrenkel/DirectRandomTargetProjection, function.py). Nothing in it depends on the layers
above, so a layer could update as soon as its forward is done.

B_k ~ U(−√3 s, √3 s) (standard deviation s): by default s = √(2 / inputs of layer k), the
authors' `kaiming_uniform_` on a tensor of B_k's shape; `scale` sets s.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar

import torch
from torch import Tensor

from corebp.contracts.choices import OneOf
from corebp.contracts.loss import REDUCTIONS
from corebp.errors import ConfigError, ShapeError, StateError
from corebp_rules.feedback import FeedbackRule, StandIn


class DirectRandomTargetProjection(FeedbackRule):
    """drtp: every layer sends a fixed random projection of the target below it.

    Args:
        scale: the standard deviation s of each B_k, drawn U(−√3 s, √3 s); None: √(2 / the
            layer's inputs), the authors' kaiming-uniform.
        reduction: sum: each example's y* B as it is (the authors' code); mean: y* B / N, the
            batch's size, as the error of a mean loss is.
    """

    check_args: ClassVar = [{}, {"scale": 0.3, "reduction": "mean"}]

    def __init__(
        self,
        scale: float | None = None,
        reduction: Annotated[str, OneOf(REDUCTIONS)] = "sum",
        generator: torch.Generator | None = None,
    ):
        super().__init__(scale, generator)
        if reduction not in REDUCTIONS:
            raise ConfigError(
                f"drtp: reduction={reduction!r} is not one of sum, mean; sum sends y* B for "
                "each example (the authors' code), mean y* B / N (as a mean loss's error)."
            )
        self.reduction = reduction
        #: This batch's target (before_backward), made (N, outputs) by the output layer.
        self.target: Tensor | None = None
        self.projected: Tensor | None = None

    def before_backward(self, x: Tensor, y: Tensor) -> None:
        self.target, self.projected = y, None

    def input_error(self, stand_in: StandIn, x: Tensor, ctx: Any, grad_output: Tensor) -> Tensor:
        if stand_in is self.stand_ins[-1]:
            self.projected = self._targets(grad_output.flatten(1))
            if self.reduction == "mean":
                self.projected = self.projected / self.projected.shape[0]
        t = self.projected
        if t is None:
            raise StateError(
                "drtp: a layer's backward ran before the output layer's had the batch's target; "
                "call rule.before_backward(x, y) before model.backward (the training loop does)."
            )
        inputs = x[0].numel()
        B = self.feedback.get(stand_in.name)
        if B is None:
            s = self.scale if self.scale is not None else math.sqrt(2 / inputs)
            bound = math.sqrt(3) * s
            B = torch.rand((t.shape[1], inputs), generator=self.generator)
            B = self.feedback[stand_in.name] = B.mul_(2 * bound).sub_(bound).to(x.device, x.dtype)
        if stand_in is self.stand_ins[-1]:
            self.used[stand_in.name] = B
        return t.mm(B).view(x.shape)

    def _targets(self, e: Tensor) -> Tensor:
        """y* as an (N, outputs) float tensor, for output errors e of that shape."""
        y = self.target
        if y is None:
            raise StateError(
                "drtp: no target for this batch; call rule.before_backward(x, y) before "
                "model.backward (the training loop does)."
            )
        if not y.dtype.is_floating_point:
            return torch.nn.functional.one_hot(y.long(), e.shape[1]).to(e.dtype)
        if y.shape[0] != e.shape[0] or y[0].numel() != e.shape[1]:
            raise ShapeError(
                f"drtp: target of shape {tuple(y.shape)} for outputs of shape {tuple(e.shape)}; "
                "expected class indices (N,) or a float target of the output's shape."
            )
        return y.flatten(1).to(e.dtype)
