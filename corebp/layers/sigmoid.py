"""Sigmoid: the logistic function, element-wise."""

from __future__ import annotations

import torch
from torch import Tensor

from corebp.layer import Layer


class Sigmoid(Layer):
    """y = σ(x) = 1 / (1 + e^(−x)), any shape.

    Backward: dx = g ⊙ (1 − y) ⊙ y, using the cached output y (σ′(x) = σ(x)(1 − σ(x))).

    It is evaluated in that order, as torch's own kernel does, so a torch twin trained in
    lockstep stays bit-identical; and in g's memory, a block of rows at a time, so the only
    temporary, (1 − y), stays small and a training step peaks below autograd's memory.
    """

    #: Elements of (1 − y) computed at once in backward.
    BLOCK = 1 << 17

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = torch.sigmoid(x)
        return y, y

    def _backward(self, y: Tensor, grad_output: Tensor, input_grad: bool) -> Tensor:
        rows = max(1, self.BLOCK // max(1, y[:1].numel()))
        for g, yb in zip(grad_output.split(rows), y.split(rows), strict=True):
            g.mul_(1 - yb).mul_(yb)
        return grad_output

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return torch.sigmoid(x)
