"""Flatten: merge dimensions start_dim..end_dim into one, e.g. images before a Linear layer."""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Size, Tensor, nn

from corebp.contracts.counterpart import TorchCounterpart
from corebp.contracts.layer import Layer
from corebp.errors import ConfigError, ShapeError


class Flatten(Layer):
    """y = x with dims start_dim..end_dim merged, as `torch.nn.Flatten`; by default
    (N, d1, ..., dk) -> (N, Π dᵢ).

    Backward: dx = g reshaped back to x's shape (a reshape moves no value).

    Args:
        start_dim: the first dimension merged (negative: from the end); 1 keeps the batch.
        end_dim: the last dimension merged, inclusive (negative: from the end; −1: the last).
    """

    torch_counterpart: ClassVar = TorchCounterpart(
        nn.Flatten,
        lambda layer: {"start_dim": layer.start_dim, "end_dim": layer.end_dim},
        lambda m: Flatten(m.start_dim, m.end_dim),
    )

    check_args: ClassVar = [{}, {"start_dim": 2}, {"start_dim": 0, "end_dim": -2}]

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        for name, value in (("start_dim", start_dim), ("end_dim", end_dim)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"Flatten: {name}={value!r} must be an integer dimension.")
        self.start_dim = start_dim
        self.end_dim = end_dim

    def _forward(self, x: Tensor) -> tuple[Tensor, Size]:
        start = self.start_dim + x.dim() if self.start_dim < 0 else self.start_dim
        end = self.end_dim + x.dim() if self.end_dim < 0 else self.end_dim
        if not (0 <= start < x.dim() and 0 <= end < x.dim()):
            needed = max(d + 1 if d >= 0 else -d for d in (self.start_dim, self.end_dim))
            raise ShapeError(
                f"expected input with at least {needed} dimensions to flatten dims "
                f"{self.start_dim}..{self.end_dim}, got shape {tuple(x.shape)}; add a batch "
                "dimension, e.g. x.unsqueeze(0)"
            )
        if start > end:
            raise ShapeError(
                f"start_dim={self.start_dim} comes after end_dim={self.end_dim} for input of "
                f"shape {tuple(x.shape)}; expected start_dim ≤ end_dim"
            )
        return x.flatten(start, end), x.shape

    def update_grad_input(
        self, shape: Size, grad_output: Tensor, params: dict[str, Tensor]
    ) -> Tensor:
        return grad_output.reshape(shape)

    @classmethod
    def example(
        cls, batch: int = 4, features: int = 5, **overrides: Any
    ) -> tuple[Flatten, tuple[int, ...]]:
        return cls(**overrides), (batch, features, 2, 3)

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        if (self.start_dim, self.end_dim) == (1, -1):
            return ""
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
