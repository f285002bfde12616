"""Swish (SiLU): the input gated by its own sigmoid, element-wise."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

import corebp
from corebp.contracts.counterpart import TorchCounterpart


class Swish(corebp.Layer):
    """y = x · σ(x), any shape.

    Backward: dx = g ⊙ (s + y ⊙ (1 − s)) with s = σ(x), since d(x·s)/dx = s + x·s·(1 − s).
    """

    #: torch.nn's SiLU computes the same: `corebp export` and `to_torch` use it.
    torch_counterpart: ClassVar = TorchCounterpart(nn.SiLU)

    def _forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        s = torch.sigmoid(x)
        y = x * s
        return y, (s, y)

    def update_grad_input(
        self, ctx: tuple[Tensor, Tensor], grad_output: Tensor, params: dict[str, Tensor]
    ) -> Tensor:
        s, y = ctx
        return grad_output * (s + y * (1 - s))

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return x * torch.sigmoid(x)
