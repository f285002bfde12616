"""Tanh: the hyperbolic tangent, element-wise."""

from __future__ import annotations

import torch
from torch import Tensor

from corebp.contracts.layer import Layer


class Tanh(Layer):
    """y = tanh(x), any shape.

    Backward: dx = g ⊙ (1 − y²), using the cached output y (tanh′(x) = 1 − tanh²(x)).
    """

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = torch.tanh(x)
        return y, y

    def _backward(self, y: Tensor, grad_output: Tensor, input_grad: bool) -> Tensor:
        return (1 - y.square()).mul_(grad_output)

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return torch.tanh(x)
