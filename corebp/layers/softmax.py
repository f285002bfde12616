"""Softmax: exponentials normalised to sum to 1 over the last dimension."""

from __future__ import annotations

import torch
from torch import Tensor

from corebp.layer import Layer


class Softmax(Layer):
    """y_i = e^{x_i} / Σ_j e^{x_j} over the last dim; x, y: (..., C).

    Backward: dx = y ⊙ (g − Σ_j g_j y_j), the sum over the last dim (Jacobian diag(y) − y yᵀ).
    To train a classifier prefer `CrossEntropyLoss` on logits, which fuses this step.
    """

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = torch.softmax(x, dim=-1)
        return y, y

    def _backward(self, y: Tensor, grad_output: Tensor, input_grad: bool) -> Tensor:
        dot = (grad_output * y).sum(dim=-1, keepdim=True)
        return (grad_output - dot).mul_(y)

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        e = torch.exp(x - x.amax(dim=-1, keepdim=True))
        return e / e.sum(dim=-1, keepdim=True)
