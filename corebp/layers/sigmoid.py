"""Sigmoid: the logistic function, element-wise."""

from __future__ import annotations

import torch
from torch import Tensor

from corebp.layer import Layer


class Sigmoid(Layer):
    """y = σ(x) = 1 / (1 + e^(−x)), any shape.

    Backward: dx = g ⊙ y ⊙ (1 − y), using the cached output y (σ′(x) = σ(x)(1 − σ(x))),
    computed in the memory of g as g ← g ⊙ y, then g ← g − g ⊙ y (no temporary).
    """

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = torch.sigmoid(x)
        return y, y

    def _backward(self, y: Tensor, grad_output: Tensor, input_grad: bool) -> Tensor:
        return grad_output.mul_(y).addcmul_(grad_output, y, value=-1)

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return torch.sigmoid(x)
