"""Conv2d: a 2-d cross-correlation over (N, C, H, W) images, W in torch's layout."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import torch
from torch import Tensor, nn

from corebp.contracts.choices import OneOf
from corebp.contracts.counterpart import TorchCounterpart, same
from corebp.contracts.layer import Layer
from corebp.errors import ConfigError, ShapeError
from corebp.layers.init import INITIALISERS, initialise
from corebp.layers.pairs import Pair, pair, positive

#: aten's convolution backward: (dx, dW, db) in one call, bit-identical to autograd's
#: (autograd's ConvolutionBackward0 calls it). Semi-private: its signature is pinned by a test.
convolution_backward = torch.ops.aten.convolution_backward.default


def _from_torch(m: nn.Conv2d) -> Conv2d:
    if isinstance(m.padding, str) or m.padding_mode != "zeros":
        raise ConfigError(
            f"torch.nn.Conv2d(padding={m.padding!r}, padding_mode={m.padding_mode!r}): corebp's "
            "Conv2d pads with zeros by a number of pixels; expected padding=(h, w) and "
            "padding_mode='zeros'."
        )
    size: Any = m.kernel_size  # torch types them tuple[int, ...]; Conv2d checks they are pairs
    stride: Any = m.stride
    padding: Any = m.padding
    dilation: Any = m.dilation
    return Conv2d(
        m.in_channels,
        m.out_channels,
        size,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=m.groups,
        bias=m.bias is not None,
        init="zeros",
        dtype=m.weight.dtype,
        device=m.weight.device,
    )


class Conv2d(Layer):
    """y[n, o] = b[o] + Σ_c Σ_ij W[o, c, i, j] · x_pad[n, g·C_in/G + c, s·p + d·i, s·q + d·j].

    x: (N, C_in, H, W), W: (C_out, C_in/G, kh, kw), b: (C_out,), y: (N, C_out, H', W') with
    H' = ⌊(H + 2·pad − d·(kh − 1) − 1) / s⌋ + 1 (likewise W'); G = groups, o in group g.
    Backward: dW += Σ_n g ⋆ x (the correlation of each output gradient with its input patch),
    db += Σ_{n,p,q} g, dx = the transposed convolution of g with W — from aten's
    `convolution_backward`, one call for both halves in backprop.

    Args:
        in_channels: C_in, the input's channels (dim 1); divisible by groups.
        out_channels: C_out, the output's channels (filters); divisible by groups.
        kernel_size: the window (kh, kw) in pixels, or one int for a square window.
        stride: s, the step between windows in pixels, one int or (h, w).
        padding: zero pixels added on each side, one int or (h, w), ≥ 0.
        dilation: d, the spacing between kernel taps in pixels, one int or (h, w); 1: adjacent.
        groups: G, the channel groups convolved separately; 1: every filter sees every channel.
        bias: whether to add b (initialised to zeros).
        init: how W is drawn (the init table of docs/reference.md), with fan_in =
            C_in/G·kh·kw; uniform is U(−1/√fan_in, 1/√fan_in), torch.nn.Conv2d's scale.
    """

    torch_counterpart: ClassVar = TorchCounterpart(
        nn.Conv2d,
        lambda layer: {
            "in_channels": layer.in_channels,
            "out_channels": layer.out_channels,
            "kernel_size": layer.kernel_size,
            "stride": layer.stride,
            "padding": layer.padding,
            "dilation": layer.dilation,
            "groups": layer.groups,
            "bias": "b" in layer.params,
        },
        lambda m: _from_torch(m),
        {"W": ("weight", same), "b": ("bias", same)},
    )

    check_args: ClassVar = [
        {},
        {"stride": 2, "padding": 1, "dilation": 2, "bias": False},
        {
            "in_channels": 4,
            "out_channels": 6,
            "kernel_size": (3, 2),
            "groups": 2,
            "padding": (1, 0),
        },
    ]
    feedback_param: ClassVar = "W"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Pair,
        stride: Pair = 1,
        padding: Pair = 0,
        dilation: Pair = 1,
        groups: int = 1,
        bias: bool = True,
        init: Annotated[str, OneOf(INITIALISERS)] = "uniform",
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = positive("Conv2d", "in_channels", in_channels)
        self.out_channels = positive("Conv2d", "out_channels", out_channels)
        self.groups = positive("Conv2d", "groups", groups)
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if value % groups:
                raise ConfigError(
                    f"Conv2d: {name}={value} must be divisible by groups={groups}; "
                    "choose groups that divides both channel counts."
                )
        self.kernel_size = pair("Conv2d", "kernel_size", kernel_size)
        self.stride = pair("Conv2d", "stride", stride)
        self.padding = pair("Conv2d", "padding", padding, minimum=0)
        self.dilation = pair("Conv2d", "dilation", dilation)
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        try:
            W = initialise(init, shape, dtype=dtype, device=device, generator=generator)
        except ConfigError as e:
            raise ConfigError(f"Conv2d: {e}") from None
        self.add_param("W", W)
        if bias:
            self.add_param("b", torch.zeros(out_channels, dtype=dtype, device=device))
        self.init = init

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ShapeError(
                f"expected input of shape (batch, {self.in_channels}, height, width), got shape "
                f"{tuple(x.shape)}"
                + (" (a data source gives images with flatten: false)" if x.dim() == 2 else "")
            )
        try:
            y = torch.nn.functional.conv2d(
                x,
                self.params["W"],
                self.params.get("b"),
                self.stride,
                self.padding,
                self.dilation,
                self.groups,
            )
        except RuntimeError as e:  # e.g. an image smaller than the dilated kernel
            raise ShapeError(f"input of shape {tuple(x.shape)}: {e}") from None
        return y, x

    def _backward(self, x: Tensor, grad_output: Tensor, input_grad: bool) -> Tensor | None:
        # Both halves in one aten call (what autograd runs); equal, bit for bit, to the two
        # separate calls below (tests/core/test_layer_contract.py checks it).
        dx, dW, db = self._convolution_backward(x, grad_output, self.params["W"], input_grad, True)
        self._accumulate(dW, db)
        return dx if input_grad else None

    def acc_grad_parameters(self, x: Tensor, grad_output: Tensor) -> None:
        _, dW, db = self._convolution_backward(x, grad_output, self.params["W"], False, True)
        self._accumulate(dW, db)

    def update_grad_input(
        self, x: Tensor, grad_output: Tensor, params: dict[str, Tensor]
    ) -> Tensor:
        dx, _, _ = self._convolution_backward(x, grad_output, params["W"], True, False)
        return dx

    def _convolution_backward(
        self, x: Tensor, grad_output: Tensor, W: Tensor, dx: bool, dparams: bool
    ) -> tuple[Tensor, Tensor, Tensor]:
        """aten's (dx, dW, db) for this layer's geometry, with W in the weight's place."""
        has_bias = dparams and "b" in self.grads
        return convolution_backward(
            grad_output,
            x,
            W,
            [self.out_channels] if has_bias else None,
            list(self.stride),
            list(self.padding),
            list(self.dilation),
            False,
            [0, 0],
            self.groups,
            [dx, dparams, has_bias],
        )

    def _accumulate(self, dW: Tensor, db: Tensor) -> None:
        self.grads["W"].add_(dW)
        if "b" in self.grads:
            self.grads["b"].add_(db)

    @classmethod
    def example(
        cls, batch: int = 4, features: int = 5, **overrides: Any
    ) -> tuple[Conv2d, tuple[int, ...]]:
        kw = {"in_channels": 2, "out_channels": 3, "kernel_size": 2, **overrides}
        layer = cls(**kw)
        return layer, (batch, layer.in_channels, features + 1, features + 2)

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return torch.nn.functional.conv2d(
            x, params["W"], params.get("b"), self.stride, self.padding, self.dilation, self.groups
        )

    def extra_repr(self) -> str:
        s = f"{self.in_channels} -> {self.out_channels}, kernel_size={self.kernel_size}"
        for name, default in (("stride", (1, 1)), ("padding", (0, 0)), ("dilation", (1, 1))):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + f", bias={'b' in self.params}"
