"""corebp models to torch.nn and back, one table row per layer type.

`to_torch(model)` returns a `torch.nn.Sequential` with the same weights (copied, in torch's
layout: corebp's Linear W is (in, out), torch's weight is (out, in)); `from_torch(module)` is
the way back. Each `Pair` in `PAIRS` says how one corebp layer type and one torch.nn module
type correspond: the torch constructor's arguments, the corebp layer built from a module,
and which parameter is which. Adding a layer type is one more row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from corebp.contracts.layer import Layer
from corebp.errors import ConfigError
from corebp.layers import (
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    LeakyReLU,
    Linear,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from corebp.layers.batch_norm import BatchNorm
from corebp.layers.sequential import Sequential


def _transpose(t: Tensor) -> Tensor:
    return t.t()


def _same(t: Tensor) -> Tensor:
    return t


@dataclass(frozen=True)
class Pair:
    """One corebp layer type and its torch.nn module type.

    `args(layer)` are the module's constructor arguments; `layer(module)` builds the corebp
    layer (its weights are copied afterwards); `params` maps each corebp parameter name to
    the module's state-dict name and the layout change, a function that is its own inverse
    (a transpose, or nothing); `buffers` lists the buffers, which have the same names and
    layout on both sides (BatchNorm's running statistics).
    """

    corebp: type[Layer]
    torch: type[nn.Module]
    args: Callable[[Any], dict[str, Any]] = lambda layer: {}
    layer: Callable[[Any], Layer] | None = None
    params: dict[str, tuple[str, Callable[[Tensor], Tensor]]] = field(default_factory=dict)
    buffers: tuple[str, ...] = ()

    def to_corebp(self, module: nn.Module) -> Layer:
        return self.corebp() if self.layer is None else self.layer(module)


def _linear(m: nn.Linear) -> Linear:
    return Linear(
        m.in_features,
        m.out_features,
        bias=m.bias is not None,
        init="zeros",
        dtype=m.weight.dtype,
        device=m.weight.device,
    )


def _conv2d(m: nn.Conv2d) -> Conv2d:
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


def _max_pool2d(m: nn.MaxPool2d) -> MaxPool2d:
    if m.return_indices:
        raise ConfigError(
            "torch.nn.MaxPool2d(return_indices=True): corebp's MaxPool2d returns the pooled "
            "values only; expected return_indices=False."
        )
    return MaxPool2d(m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode)


def _batch_norm(cls: type[BatchNorm]) -> Callable[[Any], Layer]:
    def build(m: nn.BatchNorm1d | nn.BatchNorm2d) -> Layer:
        if not m.track_running_stats:
            raise ConfigError(
                f"torch.nn.{type(m).__name__}(track_running_stats=False): corebp's {cls.__name__} "
                "keeps running statistics for eval mode; expected track_running_stats=True."
            )
        mean = m.running_mean
        assert mean is not None  # tracked statistics exist
        return cls(
            m.num_features,
            m.eps,
            m.momentum,
            m.affine,
            dtype=mean.dtype,
            device=mean.device,
        )

    return build


def _batch_norm_args(layer: BatchNorm) -> dict[str, Any]:
    return {
        "num_features": layer.num_features,
        "eps": layer.eps,
        "momentum": layer.momentum,
        "affine": layer.affine,
    }


_AFFINE: dict[str, tuple[str, Callable[[Tensor], Tensor]]] = {
    "W": ("weight", _same),
    "b": ("bias", _same),
}
_RUNNING = ("running_mean", "running_var", "num_batches_tracked")

PAIRS: list[Pair] = [
    Pair(
        Linear,
        nn.Linear,
        lambda layer: {
            "in_features": layer.in_features,
            "out_features": layer.out_features,
            "bias": "b" in layer.params,
        },
        _linear,
        {"W": ("weight", _transpose), "b": ("bias", _same)},
    ),
    Pair(Sigmoid, nn.Sigmoid),
    Pair(Tanh, nn.Tanh),
    Pair(ReLU, nn.ReLU),
    Pair(
        LeakyReLU,
        nn.LeakyReLU,
        lambda layer: {"negative_slope": layer.negative_slope},
        lambda m: LeakyReLU(m.negative_slope),
    ),
    Pair(Softmax, nn.Softmax, lambda layer: {"dim": layer.dim}, lambda m: Softmax(m.dim)),
    Pair(
        Flatten,
        nn.Flatten,
        lambda layer: {"start_dim": layer.start_dim, "end_dim": layer.end_dim},
        lambda m: Flatten(m.start_dim, m.end_dim),
    ),
    Pair(Dropout, nn.Dropout, lambda layer: {"p": layer.p}, lambda m: Dropout(m.p)),
    Pair(
        Conv2d,
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
        _conv2d,
        _AFFINE,
    ),
    Pair(
        MaxPool2d,
        nn.MaxPool2d,
        lambda layer: {
            "kernel_size": layer.kernel_size,
            "stride": layer.stride,
            "padding": layer.padding,
            "dilation": layer.dilation,
            "ceil_mode": layer.ceil_mode,
        },
        _max_pool2d,
    ),
    Pair(
        AvgPool2d,
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
    ),
    Pair(
        BatchNorm1d, nn.BatchNorm1d, _batch_norm_args, _batch_norm(BatchNorm1d), _AFFINE, _RUNNING
    ),
    Pair(
        BatchNorm2d, nn.BatchNorm2d, _batch_norm_args, _batch_norm(BatchNorm2d), _AFFINE, _RUNNING
    ),
]
#: The row for a corebp layer type, and for a torch module type (exact types, no subclasses:
#: a subclass may compute something else, e.g. a non-gradient learning rule).
BY_COREBP: dict[type[Layer], Pair] = {p.corebp: p for p in PAIRS}
BY_TORCH: dict[type[nn.Module], Pair] = {p.torch: p for p in PAIRS}


def _pair_of_layer(layer: Layer, where: str) -> Pair:
    pair = BY_COREBP.get(type(layer))
    if pair is None:
        raise ConfigError(
            f"{where}{layer!r} has no torch.nn counterpart; expected one of: "
            f"{', '.join(t.__name__ for t in BY_COREBP)} (or a Sequential of them)."
        )
    return pair


def torch_state(layer: Layer, pair: Pair, prefix: str = "") -> dict[str, Tensor]:
    """The layer's parameters and buffers as the torch module's state dict (copies, torch
    layout)."""
    state = {
        prefix + name: change(layer.params[ours]).detach().contiguous().clone()
        for ours, (name, change) in pair.params.items()
        if ours in layer.params
    }
    return state | {prefix + name: layer.buffers[name].clone() for name in pair.buffers}


def to_torch(model: Layer) -> nn.Module:
    """A torch.nn copy of a corebp layer or Sequential, with the same weights (copied).

    Draws no random numbers: modules are built on the meta device and get the weights
    assigned. The copy is in the model's train/eval mode.
    """
    return _to_torch(model, "")


def _to_torch(layer: Layer, where: str) -> nn.Module:
    if type(layer) is Sequential:
        return nn.Sequential(
            *(_to_torch(child, f"{where}layer {i}: ") for i, child in enumerate(layer.layers))
        ).train(layer.training)
    pair = _pair_of_layer(layer, where)
    if not pair.params and not pair.buffers:
        return pair.torch(**pair.args(layer)).train(layer.training)
    module = pair.torch(**pair.args(layer), device="meta")
    module.load_state_dict(torch_state(layer, pair), assign=True)
    return module.train(layer.training)


def architecture(model: Sequential) -> list[dict[str, Any]]:
    """The torch modules of `to_torch(model)` as data: [{"module": "Linear", "args": {...}}, ...].

    With it the torch.nn model can be rebuilt without corebp:
    `nn.Sequential(*(getattr(nn, m["module"])(**m["args"]) for m in arch))`.
    """
    spec = []
    for i, layer in enumerate(model.layers):
        pair = _pair_of_layer(layer, f"layer {i}: ")
        spec.append({"module": pair.torch.__name__, "args": pair.args(layer)})
    return spec


def from_torch(module: nn.Module) -> Layer:
    """A corebp copy of a torch.nn module or nn.Sequential, with the same weights (copied)."""
    return _from_torch(module, "")


def _from_torch(module: nn.Module, where: str) -> Layer:
    if type(module) is nn.Sequential:
        return Sequential(
            *(_from_torch(child, f"{where}module {i}: ") for i, child in enumerate(module))
        ).train(module.training)
    pair = BY_TORCH.get(type(module))
    if pair is None:
        raise ConfigError(
            f"{where}torch.nn.{type(module).__name__} has no corebp counterpart; expected one "
            f"of: {', '.join(t.__name__ for t in BY_TORCH)} (or an nn.Sequential of them)."
        )
    layer = pair.to_corebp(module)
    state = module.state_dict()
    for ours, (name, change) in pair.params.items():
        if state.get(name) is not None:
            layer.params[ours].copy_(change(state[name]))
    for name in pair.buffers:
        layer.buffers[name].copy_(state[name])
    return layer.train(module.training)
