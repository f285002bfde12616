"""AvgPool2d: the mean of each window of an (N, C, H, W) image."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from corebp.contracts.counterpart import TorchCounterpart
from corebp.contracts.layer import Layer
from corebp.errors import ConfigError, ShapeError
from corebp.layers.pairs import Pair, pair

#: aten's average-pooling backward, the one autograd uses (bit-identical results).
#: Semi-private: its signature is pinned by a test.
avg_pool2d_backward = torch.ops.aten.avg_pool2d_backward.default


class AvgPool2d(Layer):
    """y[n, c, p, q] = (1 / D) Σ_{i,j} x_pad[n, c, s·p + i, s·q + j], zero padding.

    x: (N, C, H, W) or (C, H, W), y: (N, C, H', W'), H' = ⌊(H + 2·pad − k) / s⌋ + 1 (⌈·⌉ with
    ceil_mode). D = kh·kw, or the window's count of unpadded elements when
    count_include_pad is False, or divisor_override. stride defaults to kernel_size.
    Backward: dx[window of (p, q)] += g[p, q] / D, aten's `avg_pool2d_backward`.

    Args:
        kernel_size: the window (kh, kw) in pixels, or one int for a square window.
        stride: s, the step between windows in pixels, one int or (h, w); null: kernel_size
            (windows side by side).
        padding: zero pixels added on each side, one int or (h, w), at most half the window.
        ceil_mode: round the output size up (⌈·⌉), so a partial last window counts; false:
            down (⌊·⌋).
        count_include_pad: whether padded zeros count in D; false: D is the window's number
            of unpadded elements.
        divisor_override: D for every window, a positive int; null: as count_include_pad says.
    """

    torch_counterpart: ClassVar = TorchCounterpart(
        nn.AvgPool2d,
        lambda layer: {
            "kernel_size": layer.kernel_size,
            "stride": layer.stride,
            "padding": layer.padding,
            "ceil_mode": layer.ceil_mode,
            "count_include_pad": layer.count_include_pad,
            "divisor_override": layer.divisor_override,
        },
        lambda m: AvgPool2d(
            m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad, m.divisor_override
        ),
    )

    check_args: ClassVar = [
        {},
        {
            "kernel_size": 3,
            "stride": 2,
            "padding": 1,
            "ceil_mode": True,
            "count_include_pad": False,
        },
        {"kernel_size": (2, 3), "stride": 1, "divisor_override": 4},
    ]

    def __init__(
        self,
        kernel_size: Pair,
        stride: Pair | None = None,
        padding: Pair = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size = pair("AvgPool2d", "kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else pair("AvgPool2d", "stride", stride)
        self.padding = pair("AvgPool2d", "padding", padding, minimum=0)
        for k, p in zip(self.kernel_size, self.padding, strict=True):
            if 2 * p > k:
                raise ConfigError(
                    f"AvgPool2d: padding={padding!r} must be at most half of "
                    f"kernel_size={kernel_size!r}; use a smaller padding."
                )
        if divisor_override is not None and (
            not isinstance(divisor_override, int) or divisor_override < 1
        ):
            raise ConfigError(
                f"AvgPool2d: divisor_override={divisor_override!r} must be a positive integer "
                "or null."
            )
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = divisor_override

    def _args(self) -> tuple[Any, ...]:
        return (
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.dim() not in (3, 4):
            raise ShapeError(
                f"expected input of shape (batch, channels, height, width), got shape "
                f"{tuple(x.shape)}"
            )
        try:
            y = torch.nn.functional.avg_pool2d(x, *self._args())
        except RuntimeError as e:  # e.g. an image smaller than the window
            raise ShapeError(f"input of shape {tuple(x.shape)}: {e}") from None
        return y, x

    def update_grad_input(
        self, x: Tensor, grad_output: Tensor, params: dict[str, Tensor]
    ) -> Tensor:
        return avg_pool2d_backward(grad_output, x, *self._args())

    @classmethod
    def example(
        cls, batch: int = 4, features: int = 5, **overrides: Any
    ) -> tuple[AvgPool2d, tuple[int, ...]]:
        return cls(**{"kernel_size": 2, **overrides}), (batch, 2, features + 1, features + 2)

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return torch.nn.functional.avg_pool2d(x, *self._args())

    def extra_repr(self) -> str:
        s = f"kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.ceil_mode:
            s += ", ceil_mode=True"
        if not self.count_include_pad:
            s += ", count_include_pad=False"
        if self.divisor_override is not None:
            s += f", divisor_override={self.divisor_override}"
        return s
