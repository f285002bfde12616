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

from corebp.errors import ConfigError
from corebp.layer import Layer
from corebp.layers import Dropout, Flatten, LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh
from corebp.sequential import Sequential


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
    (a transpose, or nothing).
    """

    corebp: type[Layer]
    torch: type[nn.Module]
    args: Callable[[Any], dict[str, Any]] = lambda layer: {}
    layer: Callable[[Any], Layer] | None = None
    params: dict[str, tuple[str, Callable[[Tensor], Tensor]]] = field(default_factory=dict)

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


def _softmax(m: nn.Softmax) -> Softmax:
    if m.dim != -1:
        raise ConfigError(
            f"torch.nn.Softmax(dim={m.dim}): corebp's Softmax normalises over the last "
            "dimension; expected dim=-1. Fix: build the module as nn.Softmax(dim=-1)."
        )
    return Softmax()


def _flatten(m: nn.Flatten) -> Flatten:
    if (m.start_dim, m.end_dim) != (1, -1):
        raise ConfigError(
            f"torch.nn.Flatten(start_dim={m.start_dim}, end_dim={m.end_dim}): corebp's Flatten "
            "keeps the batch dimension and flattens the rest; expected start_dim=1, end_dim=-1."
        )
    return Flatten()


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
    Pair(Softmax, nn.Softmax, lambda layer: {"dim": -1}, _softmax),
    Pair(Flatten, nn.Flatten, lambda layer: {"start_dim": 1, "end_dim": -1}, _flatten),
    Pair(Dropout, nn.Dropout, lambda layer: {"p": layer.p}, lambda m: Dropout(m.p)),
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
    """The layer's parameters as the torch module's state dict (copies, torch layout)."""
    return {
        prefix + name: change(layer.params[ours]).detach().contiguous().clone()
        for ours, (name, change) in pair.params.items()
        if ours in layer.params
    }


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
    if not pair.params:
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
    return layer.train(module.training)
