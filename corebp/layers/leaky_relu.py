"""LeakyReLU: ReLU with a small slope for negative inputs, element-wise."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from corebp.contracts.counterpart import TorchCounterpart
from corebp.contracts.layer import Layer
from corebp.errors import ConfigError


class LeakyReLU(Layer):
    """y = x if x > 0 else a·x, a = negative_slope, any shape.

    Backward: dx = g ⊙ (1 if x > 0 else a), using the cached input x.

    Args:
        negative_slope: a, the slope for x ≤ 0; 0 gives ReLU.
    """

    torch_counterpart: ClassVar = TorchCounterpart(
        nn.LeakyReLU,
        lambda layer: {"negative_slope": layer.negative_slope},
        lambda m: LeakyReLU(m.negative_slope),
    )

    check_args: ClassVar = [{}, {"negative_slope": 0.3}]

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        if not isinstance(negative_slope, (int, float)) or isinstance(negative_slope, bool):
            raise ConfigError(
                f"LeakyReLU: negative_slope={negative_slope!r} must be a number such as 0.01."
            )
        self.negative_slope = float(negative_slope)

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return torch.nn.functional.leaky_relu(x, self.negative_slope), x

    def update_grad_input(
        self, x: Tensor, grad_output: Tensor, params: dict[str, Tensor]
    ) -> Tensor:
        return torch.where(x > 0, grad_output, grad_output * self.negative_slope)

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return torch.where(x > 0, x, self.negative_slope * x)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope:g}"
