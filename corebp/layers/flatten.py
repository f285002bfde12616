"""Flatten: (N, d1, d2, ...) -> (N, d1·d2·...), e.g. images before a Linear layer."""

from __future__ import annotations

from typing import Any

from torch import Size, Tensor

from corebp.errors import ShapeError
from corebp.layer import Layer


class Flatten(Layer):
    """y = x reshaped to (N, Π dᵢ); x: (N, d1, ..., dk), k ≥ 1.

    Backward: dx = g reshaped back to x's shape (a reshape moves no value).
    """

    def _forward(self, x: Tensor) -> tuple[Tensor, Size]:
        if x.dim() < 2:
            raise ShapeError(
                f"expected input of shape (batch, ...) with at least 2 dimensions, got shape "
                f"{tuple(x.shape)}; add a batch dimension, e.g. x.unsqueeze(0)"
            )
        return x.flatten(1), x.shape

    def _backward(self, shape: Size, grad_output: Tensor, input_grad: bool) -> Tensor:
        return grad_output.reshape(shape)

    @classmethod
    def example(
        cls, batch: int = 4, features: int = 5, **overrides: Any
    ) -> tuple[Flatten, tuple[int, ...]]:
        return cls(**overrides), (batch, features, 2, 3)

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return x.reshape(x.shape[0], -1)
