"""corebp <-> torch.nn: same outputs and parameter gradients (float64, 1e-12), both ways."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from corebp_notebook.sigmoid_as_written import SigmoidAsWritten
from torch import Tensor, nn

from corebp import layers
from corebp.errors import ConfigError
from corebp.interop import BY_COREBP, PAIRS, Pair, from_torch, to_torch
from corebp.layer import Layer
from corebp.layers import Dropout, Flatten, Linear, Sigmoid, Softmax
from corebp.losses import MSELoss
from corebp.sequential import Sequential

TOL = 1e-12
DT = torch.float64


def test_every_built_in_layer_has_a_torch_pair():
    missing = [c.__name__ for c in layers.REGISTRY.values() if c not in BY_COREBP]
    assert not missing, f"add a Pair to corebp/interop.py for: {missing}"


def _corebp_gradients(model: Sequential, x: Tensor, g: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    model.zero_grad()
    out = model.forward(x)
    model.backward(g.clone())
    return out, {k: v.clone() for k, v in model.grads.items()}


def _torch_gradients(module: nn.Module, x: Tensor, g: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    module.zero_grad()
    out = module(x)
    (out * g).sum().backward()
    return out.detach(), {k: p.grad for k, p in module.named_parameters()}


def _as_torch_names(grads: dict[str, Tensor]) -> dict[str, Tensor]:
    """corebp gradient names/layouts ("0.W", (in, out)) as torch's ("0.weight", (out, in))."""
    out = {}
    for name, g in grads.items():
        index, param = name.rsplit(".", 1)
        torch_name, change = {"W": ("weight", Tensor.t), "b": ("bias", lambda t: t)}[param]
        out[f"{index}.{torch_name}"] = change(g)
    return out


def _assert_same(corebp_model: Sequential, torch_model: nn.Module, shape: tuple[int, ...]):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen, dtype=DT)
    g = torch.randn(corebp_model.forward(x).shape, generator=gen, dtype=DT)
    ours, our_grads = _corebp_gradients(corebp_model, x, g)
    theirs, their_grads = _torch_gradients(torch_model, x, g)
    assert (ours - theirs).abs().max() <= TOL
    mapped = _as_torch_names(our_grads)
    assert set(mapped) == set(their_grads) and mapped
    for name, grad in mapped.items():
        assert (grad - their_grads[name]).abs().max() <= TOL, name


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
    Flatten: (lambda: Sequential(Flatten(), Linear(6, 3)), (4, 2, 3)),
    Linear: (lambda: Sequential(Linear(5, 4), Linear(4, 3, bias=False)), (4, 5)),
    Dropout: (lambda: Sequential(Linear(5, 4), Dropout(0.3), Linear(4, 3)).eval(), (4, 5)),
    Softmax: (lambda: Sequential(Linear(5, 4), Softmax(), Linear(4, 3)), (4, 5)),
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
    assert isinstance(twin[1] if len(twin) > 2 else twin[0], pair.torch)
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
    back = from_torch(to_torch(model))
    assert repr(back) == repr(model) and back.training == model.training
    assert all(torch.equal(back.params[k], p) for k, p in model.params.items())


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
        (nn.Softmax(dim=1), r"torch.nn.Softmax\(dim=1\).*expected dim=-1"),
        (nn.Flatten(0), r"Flatten\(start_dim=0, end_dim=-1\).*expected start_dim=1"),
    ],
)
def test_an_unsupported_torch_module_is_named(module: nn.Module, message: str):
    with pytest.raises(ConfigError, match=message):
        from_torch(module)
