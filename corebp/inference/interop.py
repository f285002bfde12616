"""corebp models to torch.nn and back, through the counterpart each layer class declares.

`to_torch(model)` returns a `torch.nn.Sequential` with the same weights (copied, in torch's
layout: corebp's Linear W is (in, out), torch's weight is (out, in)); `from_torch(module)` is
the way back. Each layer class's `torch_counterpart` (`corebp.contracts.counterpart`) says how
it and one torch.nn module type correspond: the torch constructor's arguments, the corebp
layer built from a module, and which parameter is which. A third-party layer that declares
one converts and exports like a built-in one; `from_torch(..., layers=[Swish])` also finds it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import Tensor, nn

from corebp.contracts.counterpart import TorchCounterpart
from corebp.contracts.layer import Layer
from corebp.errors import ConfigError
from corebp.layers import REGISTRY
from corebp.layers.sequential import Sequential

#: The built-in layers' counterparts, by corebp layer type and by torch module type (exact
#: types, no subclasses: a subclass may compute something else, e.g. a non-gradient rule).
PAIRS: list[TorchCounterpart] = [
    c for cls in REGISTRY.values() if (c := cls.torch_counterpart) is not None
]
BY_COREBP: dict[type, TorchCounterpart] = {p.corebp: p for p in PAIRS}
BY_TORCH: dict[type[nn.Module], TorchCounterpart] = {p.torch: p for p in PAIRS}


def counterpart(layer: Layer, where: str = "") -> TorchCounterpart:
    """The torch.nn counterpart `type(layer)` declares itself, else a ConfigError naming it."""
    declared = type(layer).torch_counterpart
    if declared is None or declared.corebp is not type(layer):
        raise ConfigError(
            f"{where}{layer!r} has no torch.nn counterpart; expected a layer class that declares "
            f"`torch_counterpart` (built in: {', '.join(t.__name__ for t in BY_COREBP)}), or "
            "a Sequential of them."
        )
    return declared


def torch_state(layer: Layer, pair: TorchCounterpart, prefix: str = "") -> dict[str, Tensor]:
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
    pair = counterpart(layer, where)
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
        pair = counterpart(layer, f"layer {i}: ")
        spec.append({"module": pair.torch.__name__, "args": pair.args(layer)})
    return spec


def from_torch(module: nn.Module, layers: Iterable[type[Layer]] = ()) -> Layer:
    """A corebp copy of a torch.nn module or nn.Sequential, with the same weights (copied).

    The built-in layers' counterparts are looked up, then those of `layers` (third-party
    layer classes that declare one), which take precedence.
    """
    extra = {c.torch: c for cls in layers if (c := cls.torch_counterpart) is not None}
    return _from_torch(module, "", BY_TORCH | extra)


def _from_torch(
    module: nn.Module, where: str, by_torch: dict[type[nn.Module], TorchCounterpart]
) -> Layer:
    if type(module) is nn.Sequential:
        return Sequential(
            *(
                _from_torch(child, f"{where}module {i}: ", by_torch)
                for i, child in enumerate(module)
            )
        ).train(module.training)
    pair = by_torch.get(type(module))
    if pair is None:
        raise ConfigError(
            f"{where}torch.nn.{type(module).__name__} has no corebp counterpart; expected one "
            f"of: {', '.join(t.__name__ for t in by_torch)} (or an nn.Sequential of them)."
        )
    layer = pair.to_corebp(module)
    state = module.state_dict()
    for ours, (name, change) in pair.params.items():
        if state.get(name) is not None:
            layer.params[ours].copy_(change(state[name]))
    for name in pair.buffers:
        layer.buffers[name].copy_(state[name])
    return layer.train(module.training)
