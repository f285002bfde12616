"""corebp <-> torch.nn: same outputs and parameter gradients (float64, 1e-12), both ways."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from corebp_notebook.sigmoid_as_written import SigmoidAsWritten
from omegaconf import OmegaConf
from torch import Tensor, nn

from corebp import layers
from corebp.contracts.counterpart import TorchCounterpart as Pair
from corebp.contracts.layer import Layer
from corebp.errors import ConfigError
from corebp.inference.interop import BY_COREBP, PAIRS, from_torch, to_torch
from corebp.layers import (
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    Reshape,
    Sigmoid,
    Softmax,
)
from corebp.layers.sequential import Sequential
from corebp.losses import MSELoss
from corebp.plugins import registry
from corebp.recipe import find_recipe
from corebp.recipe.components import instantiate

TOL = 1e-12
DT = torch.float64


#: Built-in layers with no torch.nn module computing the same thing: Reshape keeps the batch
#: dimension and reshapes the rest of any input, torch.nn.Unflatten only splits one dimension.
NO_TORCH_MODULE = {Reshape}


def test_every_built_in_layer_has_a_torch_pair():
    missing = [
        c.__name__
        for c in layers.REGISTRY.values()
        if c not in BY_COREBP and c not in NO_TORCH_MODULE
    ]
    assert not missing, f"add a Pair to corebp/inference/interop.py for: {missing}"


def _corebp_gradients(
    model: Sequential, x: Tensor, gen: torch.Generator
) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """Output, a random output gradient g and the parameter gradients of Σ out·g."""
    model.zero_grad()
    out = model.forward(x)
    g = torch.randn(out.shape, generator=gen, dtype=DT)
    model.backward(g.clone())
    return out, g, {k: v.clone() for k, v in model.grads.items()}


def _torch_gradients(module: nn.Module, x: Tensor, g: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    module.zero_grad()
    out = module(x)
    (out * g).sum().backward()
    return out.detach(), {k: p.grad for k, p in module.named_parameters()}


def _as_torch_names(model: Sequential, grads: dict[str, Tensor]) -> dict[str, Tensor]:
    """corebp gradient names/layouts ("0.W", (in, out) for Linear) as torch's ("0.weight",
    (out, in)), by the hand-written table below (not the Pair under test)."""
    out = {}
    for name, g in grads.items():
        index, param = name.rsplit(".", 1)
        transpose = isinstance(model.layers[int(index)], Linear) and param == "W"
        out[f"{index}.{ {'W': 'weight', 'b': 'bias'}[param] }"] = g.t() if transpose else g
    return out


def _assert_same(corebp_model: Sequential, torch_model: nn.Module, shape: tuple[int, ...]):
    """Same outputs and parameter gradients for two passes (with different inputs), and the
    same buffers after them (BatchNorm's running statistics in training mode)."""
    gen = torch.Generator().manual_seed(0)
    for _ in range(2):
        x = torch.randn(shape, generator=gen, dtype=DT)
        ours, g, our_grads = _corebp_gradients(corebp_model, x, gen)
        theirs, their_grads = _torch_gradients(torch_model, x, g)
        assert (ours - theirs).abs().max() <= TOL
        mapped = _as_torch_names(corebp_model, our_grads)
        assert set(mapped) == set(their_grads) and mapped
        for name, grad in mapped.items():
            assert (grad - their_grads[name]).abs().max() <= TOL, name
    their_buffers = dict(torch_model.named_buffers())
    assert set(corebp_model.buffers) == set(their_buffers)
    for name, b in corebp_model.buffers.items():
        assert (b.to(DT) - their_buffers[name].to(DT)).abs().max() <= TOL, name


def notebook_network() -> Sequential:
    torch.manual_seed(0)
    return Sequential(
        Linear(784, 100, bias=False, init="normal"),
        Sigmoid(),
        Linear(100, 10, bias=False, init="normal"),
        Sigmoid(),
    ).to(dtype=DT)


def test_notebook_network_to_torch_same_outputs_and_loss_gradients():
    model = notebook_network()
    twin = to_torch(model)
    x = torch.randn(32, 784, dtype=DT) * 0.1
    onehot = nn.functional.one_hot(torch.randint(0, 10, (32,)), 10).to(DT)
    loss = MSELoss(reduction="sum", scale=0.5)
    out = model.forward(x)
    loss.forward(out, onehot)
    model.backward(loss.backward())
    theirs = twin(x)
    (0.5 * (theirs - onehot).square().sum()).backward()
    assert (out - theirs).abs().max() <= TOL
    assert (model.grads["0.W"].t() - twin[0].weight.grad).abs().max() <= TOL
    assert (model.grads["2.W"].t() - twin[2].weight.grad).abs().max() <= TOL


def test_notebook_network_round_trips_bit_for_bit():
    model = notebook_network()
    back = from_torch(to_torch(model))
    assert repr(back) == repr(model)
    assert all(torch.equal(back.params[k], p) for k, p in model.params.items())


# One small model per pair, with Linear layers around the layer so it has gradients to pass.
MODELS: dict[type[Layer], tuple[Callable[[], Sequential], tuple[int, ...]]] = {
    Flatten: (lambda: Sequential(Flatten(1, 2), Flatten(), Linear(18, 3)), (4, 2, 3, 3)),
    Linear: (lambda: Sequential(Linear(5, 4), Linear(4, 3, bias=False)), (4, 5)),
    Dropout: (lambda: Sequential(Linear(5, 4), Dropout(0.3), Linear(4, 3)).eval(), (4, 5)),
    Softmax: (lambda: Sequential(Conv2d(1, 3, 2), Softmax(1), Conv2d(3, 2, 2)), (4, 1, 4, 5)),
    Conv2d: (
        lambda: Sequential(
            Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
            Conv2d(4, 3, 2, bias=False),
        ),
        (3, 2, 7, 8),
    ),
    MaxPool2d: (
        lambda: Sequential(Conv2d(2, 3, 2), MaxPool2d(3, 2, 1, dilation=1, ceil_mode=True)),
        (3, 2, 8, 9),
    ),
    AvgPool2d: (
        lambda: Sequential(
            Conv2d(2, 3, 2), AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)
        ),
        (3, 2, 8, 9),
    ),
    BatchNorm1d: (
        lambda: Sequential(Linear(5, 4), BatchNorm1d(4, eps=1e-3, momentum=0.3), Linear(4, 3)),
        (6, 5),
    ),
    BatchNorm2d: (
        lambda: Sequential(Conv2d(2, 3, 2), BatchNorm2d(3, momentum=None), Conv2d(3, 2, 2)),
        (3, 2, 5, 6),
    ),
}


def _model_for(pair: Pair) -> tuple[Sequential, tuple[int, ...]]:
    make, shape = MODELS.get(
        pair.corebp,
        (lambda: Sequential(Linear(5, 4), pair.corebp(), Linear(4, 3)), (4, 5)),
    )
    torch.manual_seed(1)
    return make().to(dtype=DT), shape


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: p.corebp.__name__)
def test_to_torch_gives_the_same_outputs_and_parameter_gradients(pair: Pair):
    model, shape = _model_for(pair)
    twin = to_torch(model)
    assert any(type(m) is pair.torch for m in twin)
    _assert_same(model, twin, shape)


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: p.corebp.__name__)
def test_from_torch_gives_the_same_outputs_and_parameter_gradients(pair: Pair):
    model, shape = _model_for(pair)
    torch.manual_seed(2)
    # An independently initialised torch model, built from the same constructor arguments.
    module = (
        nn.Sequential(
            *(BY_COREBP[type(layer)].torch(**BY_COREBP[type(layer)].args(layer)) for layer in model)
        )
        .to(DT)
        .train(model.training)
    )
    _assert_same(from_torch(module), module, shape)


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: p.corebp.__name__)
def test_round_trip_keeps_every_argument_and_weight(pair: Pair):
    model, _ = _model_for(pair)
    for b in model.buffers.values():  # buffers that differ from their initial values
        b.add_(torch.arange(b.numel(), dtype=b.dtype).reshape(b.shape) + 1)
    back = from_torch(to_torch(model))
    assert repr(back) == repr(model) and back.training == model.training
    assert all(torch.equal(back.params[k], p) for k, p in model.params.items())
    assert set(back.buffers) == set(model.buffers)
    assert all(torch.equal(back.buffers[k], b) for k, b in model.buffers.items())


def test_weights_are_copied_not_shared_and_no_random_numbers_are_drawn():
    model = notebook_network()
    state = torch.get_rng_state()
    twin = to_torch(model)
    back = from_torch(twin)
    assert torch.equal(torch.get_rng_state(), state)
    with torch.no_grad():
        twin[0].weight.zero_()
    assert model.params["0.W"].abs().sum() > 0 and back.params["0.W"].abs().sum() > 0


def test_train_and_eval_mode_carry_over():
    model = Sequential(Linear(2, 2), Dropout(0.5)).eval()
    assert not to_torch(model).training and not to_torch(model)[1].training
    assert not from_torch(nn.Sequential(nn.Dropout(0.5)).eval()).training


def test_an_unsupported_corebp_layer_is_named():
    model = Sequential(Linear(3, 3), SigmoidAsWritten())
    with pytest.raises(ConfigError, match=r"layer 1: SigmoidAsWritten\(\) has no torch\.nn"):
        to_torch(model)


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (
            nn.Sequential(nn.Linear(3, 3), nn.Bilinear(3, 3, 2)),
            "module 1: torch.nn.Bilinear has no",
        ),
        (nn.Conv2d(1, 2, 3, padding="same"), r"Conv2d\(padding='same'.*expected padding"),
        (nn.Conv2d(1, 2, 3, padding_mode="reflect"), r"padding_mode='reflect'.*'zeros'"),
        (nn.MaxPool2d(2, return_indices=True), r"return_indices=True.*expected return_"),
        (
            nn.BatchNorm2d(3, track_running_stats=False),
            r"BatchNorm2d\(track_running_stats=False\).*expected track_running_stats=True",
        ),
    ],
)
def test_an_unsupported_torch_module_is_named(module: nn.Module, message: str):
    with pytest.raises(ConfigError, match=message):
        from_torch(module)


def _recipe_model(recipe: str) -> Sequential:
    """The `model` list of a shipped recipe, built from the core's layers alone (the rest of the
    recipe needs plugins, and the core's tests also run with none)."""
    spec = OmegaConf.to_container(OmegaConf.load(find_recipe(recipe)))
    assert isinstance(spec, dict)
    reg = registry()
    return Sequential(
        *(
            instantiate(reg, "layers", s["type"], {k: v for k, v in s.items() if k != "type"}, "m")
            for s in spec["model"]
        )
    ).to("cpu", DT)


@pytest.mark.parametrize("recipe", ["mnist-lenet5", "mnist-lenet5-batchnorm"])
def test_shipped_lenet_to_torch_and_back_within_1e_12_float64(recipe: str):
    torch.manual_seed(0)
    model = _recipe_model(recipe)
    _assert_same(model, to_torch(model), (5, 1, 32, 32))
    torch.manual_seed(1)
    module = to_torch(_recipe_model(recipe))
    back = from_torch(module)
    assert repr(back) == repr(model)
    _assert_same(back, module, (5, 1, 32, 32))
