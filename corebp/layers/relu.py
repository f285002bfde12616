"""ReLU: the rectified linear unit, element-wise."""

from __future__ import annotations

import torch
from torch import Tensor

from corebp.layer import Layer


class ReLU(Layer):
    """y = max(x, 0), any shape.

    Backward: dx = g ⊙ [y > 0] (the subgradient 0 is used at x = 0, as torch does).
    """

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = torch.relu(x)
        return y, y

    def _backward(self, y: Tensor, grad_output: Tensor, input_grad: bool) -> Tensor:
        return grad_output.masked_fill(y <= 0, 0)

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return torch.relu(x)
