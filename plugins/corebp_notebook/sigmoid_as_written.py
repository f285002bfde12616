"""The notebook's sigmoid backward exactly as it was written — a deliberate non-gradient rule.

The notebook computes `sigmoid_diff(output)` = σ(y)(1 − σ(y)) where y = σ(x) is the layer's
*already activated* output; the derivative it wanted is σ′(x) = y(1 − y). So its "gradient"
is g ⊙ σ(y)(1 − σ(y)) instead of g ⊙ y(1 − y). See docs/backprop.md.

Why it trains faster with the notebook's std-1 weights: y ∈ (0, 1), so σ(y) ∈ (0.5, 0.73) and
σ(y)(1 − σ(y)) ∈ (0.197, 0.25] — never small. The true factor y(1 − y) → 0 when a unit
saturates (|x| large, which N(0, 1) weights on 784 inputs make the rule, not the exception),
so true gradients vanish while the as-written rule keeps every unit learning, like a
straight-through estimator scaled by ≈ 0.2.
"""

from __future__ import annotations

import torch
from torch import Tensor

from corebp.contracts.layer import Layer


class SigmoidAsWritten(Layer):
    """y = σ(x), any shape.

    Backward, the notebook's rule and NOT the gradient: dx = g ⊙ σ(y)(1 − σ(y)).
    """

    exact_gradient = False

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = torch.sigmoid(x)
        return y, y

    def update_grad_input(
        self, y: Tensor, grad_output: Tensor, params: dict[str, Tensor]
    ) -> Tensor:
        s = torch.sigmoid(y)
        return grad_output * s * (1 - s)

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return torch.sigmoid(x)
