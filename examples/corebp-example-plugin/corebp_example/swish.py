"""Swish (SiLU): the input gated by its own sigmoid, element-wise."""

from __future__ import annotations

import torch
from torch import Tensor

import corebp


class Swish(corebp.Layer):
    """y = x · σ(x), any shape.

    Backward: dx = g ⊙ (s + y ⊙ (1 − s)) with s = σ(x), since d(x·s)/dx = s + x·s·(1 − s).
    """

    def _forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        s = torch.sigmoid(x)
        y = x * s
        return y, (s, y)

    def _backward(
        self, ctx: tuple[Tensor, Tensor], grad_output: Tensor, input_grad: bool
    ) -> Tensor:
        s, y = ctx
        return grad_output * (s + y * (1 - s))

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return x * torch.sigmoid(x)
