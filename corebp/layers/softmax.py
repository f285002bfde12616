"""Softmax: exponentials normalised to sum to 1 over one dimension."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from corebp.contracts.counterpart import TorchCounterpart
from corebp.contracts.layer import Layer
from corebp.errors import ConfigError, ShapeError


class Softmax(Layer):
    """y_i = e^{x_i} / Σ_j e^{x_j} over dimension `dim` (default: the last); any shape.

    Backward: dx = y ⊙ (g − Σ_j g_j y_j), the sum over `dim` (Jacobian diag(y) − y yᵀ).
    To train a classifier prefer `CrossEntropyLoss` on logits, which fuses this step.

    Args:
        dim: the dimension normalised to sum to 1 (negative: from the end; −1: the last).
    """

    torch_counterpart: ClassVar = TorchCounterpart(
        nn.Softmax, lambda layer: {"dim": layer.dim}, lambda m: Softmax(m.dim)
    )

    check_args: ClassVar = [{}, {"dim": 0}]

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise ConfigError(f"Softmax: dim={dim!r} must be an integer dimension, e.g. -1 or 1.")
        self.dim = dim

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if not -x.dim() <= self.dim < max(x.dim(), 1):
            raise ShapeError(
                f"dim={self.dim} is out of range for input of shape {tuple(x.shape)}; "
                f"expected a dim in [{-x.dim()}, {x.dim() - 1}]"
            )
        y = torch.softmax(x, dim=self.dim)
        return y, y

    def update_grad_input(
        self, y: Tensor, grad_output: Tensor, params: dict[str, Tensor]
    ) -> Tensor:
        dot = (grad_output * y).sum(dim=self.dim, keepdim=True)
        return (grad_output - dot).mul_(y)

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        e = torch.exp(x - x.amax(dim=self.dim, keepdim=True))
        return e / e.sum(dim=self.dim, keepdim=True)

    def extra_repr(self) -> str:
        return "" if self.dim == -1 else f"dim={self.dim}"
