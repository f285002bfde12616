"""Sigmoid: the logistic function, element-wise."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from corebp.contracts.counterpart import TorchCounterpart
from corebp.contracts.layer import Layer
from corebp.errors import ConfigError


class Sigmoid(Layer):
    """y = σ(x) = 1 / (1 + e^(−x)), any shape.

    Backward: dx = g ⊙ (1 − y) ⊙ y, using the cached output y (σ′(x) = σ(x)(1 − σ(x))),
    evaluated in that order, as torch's own kernel does, so a torch twin trained in lockstep
    stays bit-identical.

    `inplace=True` (torch's flag, Lua Torch's `Sigmoid(ip)`) is the caller's declaration that
    it hands over `grad_output`: backward then computes dx in g's memory, a block at a time,
    so the only temporary, (1 − y), stays small and a training step peaks below autograd's
    memory. A g it cannot write into (expanded, non-contiguous, another dtype) is left alone.

    Args:
        inplace: whether backward may overwrite grad_output with dx (less memory; the caller
            must not reuse grad_output); false: dx is a new tensor.
    """

    torch_counterpart: ClassVar = TorchCounterpart(nn.Sigmoid)

    #: Elements of (1 − y) computed at once by the in-place backward.
    BLOCK = 1 << 17

    check_args: ClassVar = [{}, {"inplace": True}]

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        if not isinstance(inplace, bool):
            raise ConfigError(f"Sigmoid: inplace={inplace!r} must be true or false.")
        self.inplace = inplace

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = torch.sigmoid(x)
        return y, y

    def update_grad_input(
        self, y: Tensor, grad_output: Tensor, params: dict[str, Tensor]
    ) -> Tensor:
        g = grad_output
        if not (self.inplace and g.shape == y.shape and g.dtype == y.dtype and g.is_contiguous()):
            return (1 - y).mul_(g).mul_(y)
        if g.numel() <= self.BLOCK:
            return g.mul_(1 - y).mul_(y)
        blocks = zip(g.view(-1).split(self.BLOCK), y.reshape(-1).split(self.BLOCK), strict=True)
        for gb, yb in blocks:
            gb.mul_(1 - yb).mul_(yb)
        return g

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return torch.sigmoid(x)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""
