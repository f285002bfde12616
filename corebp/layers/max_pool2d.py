"""MaxPool2d: the maximum of each (dilated) window of an (N, C, H, W) image."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from corebp.contracts.counterpart import TorchCounterpart
from corebp.contracts.layer import Layer
from corebp.errors import ConfigError, ShapeError
from corebp.layers.pairs import Pair, pair

#: aten's max pooling and its backward, the pair autograd uses (bit-identical results).
#: Semi-private: their signatures are pinned by a test.
max_pool2d_with_indices = torch.ops.aten.max_pool2d_with_indices.default
max_pool2d_with_indices_backward = torch.ops.aten.max_pool2d_with_indices_backward.default


def _from_torch(m: nn.MaxPool2d) -> MaxPool2d:
    if m.return_indices:
        raise ConfigError(
            "torch.nn.MaxPool2d(return_indices=True): corebp's MaxPool2d returns the pooled "
            "values only; expected return_indices=False."
        )
    return MaxPool2d(m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)


class MaxPool2d(Layer):
    """y[n, c, p, q] = max_{i,j} x_pad[n, c, s·p + d·i, s·q + d·j], padding with −∞.

    x: (N, C, H, W) or (C, H, W), y: (N, C, H', W'), H' = ⌊(H + 2·pad − d·(k − 1) − 1) / s⌋ + 1
    (⌈·⌉ with ceil_mode). stride defaults to kernel_size.
    Backward: dx[argmax of each window] += g (the cached indices of the maxima; ties go to
    the first, as in torch), aten's `max_pool2d_with_indices_backward`.

    Args:
        kernel_size: the window (kh, kw) in pixels, or one int for a square window.
        stride: s, the step between windows in pixels, one int or (h, w); null: kernel_size
            (windows side by side).
        padding: −∞ pixels added on each side, one int or (h, w), at most half the window.
        dilation: d, the spacing between window taps in pixels, one int or (h, w); 1: adjacent.
        ceil_mode: round the output size up (⌈·⌉), so a partial last window counts; false:
            down (⌊·⌋).
    """

    torch_counterpart: ClassVar = TorchCounterpart(
        nn.MaxPool2d,
        lambda layer: {
            "kernel_size": layer.kernel_size,
            "stride": layer.stride,
            "padding": layer.padding,
            "dilation": layer.dilation,
            "ceil_mode": layer.ceil_mode,
        },
        lambda m: _from_torch(m),
    )

    check_args: ClassVar = [
        {},
        {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
        {"kernel_size": 2, "stride": 1, "dilation": 2},
    ]

    def __init__(
        self,
        kernel_size: Pair,
        stride: Pair | None = None,
        padding: Pair = 0,
        dilation: Pair = 1,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = pair("MaxPool2d", "kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else pair("MaxPool2d", "stride", stride)
        self.padding = pair("MaxPool2d", "padding", padding, minimum=0)
        self.dilation = pair("MaxPool2d", "dilation", dilation)
        for k, p in zip(self.kernel_size, self.padding, strict=True):
            if 2 * p > k:
                raise ConfigError(
                    f"MaxPool2d: padding={padding!r} must be at most half of "
                    f"kernel_size={kernel_size!r}; use a smaller padding."
                )
        self.ceil_mode = bool(ceil_mode)

    def _args(self) -> tuple[Any, ...]:
        return self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode

    def _forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        if x.dim() not in (3, 4):
            raise ShapeError(
                f"expected input of shape (batch, channels, height, width), got shape "
                f"{tuple(x.shape)}"
            )
        try:
            y, indices = max_pool2d_with_indices(x, *self._args())
        except RuntimeError as e:  # e.g. an image smaller than the window
            raise ShapeError(f"input of shape {tuple(x.shape)}: {e}") from None
        return y, (x, indices)

    def update_grad_input(
        self, ctx: tuple[Tensor, Tensor], grad_output: Tensor, params: dict[str, Tensor]
    ) -> Tensor:
        x, indices = ctx
        return max_pool2d_with_indices_backward(grad_output, x, *self._args(), indices)

    @classmethod
    def example(
        cls, batch: int = 4, features: int = 5, **overrides: Any
    ) -> tuple[MaxPool2d, tuple[int, ...]]:
        return cls(**{"kernel_size": 2, **overrides}), (batch, 2, features + 1, features + 2)

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return torch.nn.functional.max_pool2d(x, *self._args())

    def extra_repr(self) -> str:
        s = f"kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        return s + (", ceil_mode=True" if self.ceil_mode else "")
