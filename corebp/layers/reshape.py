"""Reshape: give each example a new shape, e.g. (N, 784) features back to (N, 1, 28, 28)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from torch import Size, Tensor

from corebp.contracts.layer import Layer
from corebp.errors import ConfigError, ShapeError


class Reshape(Layer):
    """y = x reshaped to (N, *shape), N = x.shape[0]; one entry of `shape` may be −1 (inferred).

    Backward: dx = g reshaped back to x's shape (a reshape moves no value).

    Args:
        shape: each example's new shape, without the batch dimension, e.g. [1, 28, 28];
            positive ints, at most one −1 (inferred from the example's size).
    """

    check_args: ClassVar = [{}, {"shape": (-1, 5)}]

    def __init__(self, shape: list[int] | tuple[int, ...]) -> None:
        super().__init__()
        dims = list(shape) if isinstance(shape, (list, tuple)) else [shape]
        if (
            not dims
            or not all(isinstance(d, int) and not isinstance(d, bool) for d in dims)
            or any(d == 0 or d < -1 for d in dims)
            or dims.count(-1) > 1
        ):
            raise ConfigError(
                f"Reshape: shape={shape!r} must be a list of positive integers, at most one of "
                "them -1 (inferred), e.g. shape=[1, 28, 28]."
            )
        self.shape = tuple(dims)

    def _forward(self, x: Tensor) -> tuple[Tensor, Size]:
        known = math.prod(d for d in self.shape if d != -1)
        per_example = math.prod(x.shape[1:])
        if x.dim() < 1 or (per_example % known if -1 in self.shape else per_example != known):
            raise ShapeError(
                f"cannot reshape input of shape {tuple(x.shape)} to (batch, "
                f"{', '.join(map(str, self.shape))}): each example has {per_example} values; "
                "expected a shape with that many"
            )
        return x.reshape(x.shape[0], *self.shape), x.shape

    def update_grad_input(
        self, shape: Size, grad_output: Tensor, params: dict[str, Tensor]
    ) -> Tensor:
        return grad_output.reshape(shape)

    @classmethod
    def example(
        cls, batch: int = 4, features: int = 5, **overrides: Any
    ) -> tuple[Reshape, tuple[int, ...]]:
        return cls(**{"shape": (features, 3, 2), **overrides}), (batch, 6 * features)

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return x.reshape(x.shape[0], *self.shape)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"
