"""Tanh: the hyperbolic tangent, element-wise."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from corebp.contracts.counterpart import TorchCounterpart
from corebp.contracts.layer import Layer


class Tanh(Layer):
    """y = tanh(x), any shape.

    Backward: dx = g ⊙ (1 − y²), using the cached output y (tanh′(x) = 1 − tanh²(x)).
    """

    torch_counterpart: ClassVar = TorchCounterpart(nn.Tanh)

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = torch.tanh(x)
        return y, y

    def update_grad_input(
        self, y: Tensor, grad_output: Tensor, params: dict[str, Tensor]
    ) -> Tensor:
        return (1 - y.square()).mul_(grad_output)

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return torch.tanh(x)
