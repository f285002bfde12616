"""ReLU: the rectified linear unit, element-wise."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from corebp.contracts.counterpart import TorchCounterpart
from corebp.contracts.layer import Layer

#: Semi-private aten op (signature pinned by a test): dx = g where y > threshold, else 0.
threshold_backward = torch.ops.aten.threshold_backward.default


class ReLU(Layer):
    """y = max(x, 0), any shape.

    Backward: dx = g ⊙ [y > 0] (the subgradient 0 is used at x = 0, as torch does), by
    aten's `threshold_backward`, the op autograd uses: one pass over g and y, where a mask
    then a fill take two and measured several times slower on LeNet's activations.
    """

    torch_counterpart: ClassVar = TorchCounterpart(nn.ReLU)

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = torch.relu(x)
        return y, y

    def update_grad_input(
        self, y: Tensor, grad_output: Tensor, params: dict[str, Tensor]
    ) -> Tensor:
        return threshold_backward(grad_output, y, 0)

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return torch.relu(x)
