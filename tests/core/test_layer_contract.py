"""One contract for every registered layer and loss: backward = finite differences = autograd,
the caller's tensors are left alone, copies keep their state."""

from __future__ import annotations

import copy
import inspect
import pickle
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from corebp import Layer, Loss, ShapeError, StateError, layers, losses
from corebp.checks.gradcheck import check_layer, check_loss
from corebp.plugins import registry as plugin_registry

DTYPES = [pytest.param(torch.float32, id="float32"), pytest.param(torch.float64, id="float64")]


def _cases() -> list:
    cases = []
    for kind, registry in (("layer", layers.REGISTRY), ("loss", losses.REGISTRY)):
        for name, cls in sorted(registry.items()):
            has_bias = "bias" in inspect.signature(cls).parameters
            for bias in (True, False) if has_bias else (None,):
                suffix = "" if bias is None else f"-bias={bias}"
                cases.append(pytest.param(kind, name, bias, id=f"{name}{suffix}"))
    return cases


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("kind", "name", "bias"), _cases())
@settings(max_examples=6, deadline=None, derandomize=True)
@given(batch=st.integers(1, 6), features=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_backward_matches_finite_differences_and_autograd(
    kind: str,
    name: str,
    bias: bool | None,
    dtype: torch.dtype,
    batch: int,
    features: int,
    seed: int,
) -> None:
    overrides = {} if bias is None else {"bias": bias}
    if kind == "layer":
        layer, shape = layers.REGISTRY[name].example(batch, features, **overrides)
        report = check_layer(layer, shape, dtype=dtype, seed=seed)
    else:
        loss, shape = losses.REGISTRY[name].example(batch, features, **overrides)
        report = check_loss(loss, shape, dtype=dtype, seed=seed)
    report.raise_if_failed()
    assert report.exact_gradient
    assert {r.method for r in report.rows if r.status == "ok"} == {"finite_differences", "autograd"}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(layers.REGISTRY))
def test_layers_pass_the_checker_with_an_extra_dimension_or_reject_it(
    name: str, dtype: torch.dtype
) -> None:
    """Element-wise layers take any shape; a layer that cannot says so with a ShapeError."""
    layer, shape = layers.REGISTRY[name].example()
    wider = (*shape[:-1], 3, shape[-1])
    try:
        copy.deepcopy(layer).forward(torch.randn(wider))
    except ShapeError:
        return
    check_layer(layer, wider, dtype=dtype).raise_if_failed()


# -- every registered layer and loss, core and plugins alike --------------------------------------
PLUGIN_LAYERS = sorted(plugin_registry().components["layers"])
PLUGIN_LOSSES = sorted(plugin_registry().components["losses"])


def _layer(name: str) -> tuple[Layer, torch.Tensor]:
    layer, shape = plugin_registry().get("layers", name).example()
    return layer, torch.randn(shape, generator=torch.Generator().manual_seed(0))


def _loss(
    name: str, shape: tuple[int, ...] | None = None
) -> tuple[Loss, torch.Tensor, torch.Tensor]:
    loss, example_shape = plugin_registry().get("losses", name).example()
    gen = torch.Generator().manual_seed(0)
    p, t = loss.example_inputs(example_shape if shape is None else shape, generator=gen)
    return loss, p.float(), t


@pytest.mark.parametrize("name", PLUGIN_LAYERS)
def test_layer_leaves_the_callers_input_and_gradient_unchanged(name: str) -> None:
    layer, x = _layer(name)
    x_before = x.clone()
    y = layer.forward(x)
    g = torch.randn(y.shape, dtype=y.dtype, generator=torch.Generator().manual_seed(1))
    g_before = g.clone()
    layer.backward(g, input_grad=True)
    assert torch.equal(x, x_before), "forward wrote into its input"
    assert torch.equal(g, g_before), "backward wrote into grad_output"


@pytest.mark.parametrize("name", PLUGIN_LAYERS)
def test_layer_backward_takes_an_expanded_gradient_as_autograd_hands_out(name: str) -> None:
    layer, x = _layer(name)
    replay = copy.deepcopy(layer)
    y = layer.forward(x)
    replay.forward(x)
    expanded = torch.ones((), dtype=y.dtype).expand(y.shape)
    dx = layer.backward(expanded, input_grad=True)
    assert dx is not None
    torch.testing.assert_close(dx, replay.backward(torch.ones_like(y), input_grad=True))


@pytest.mark.parametrize("name", PLUGIN_LOSSES)
def test_loss_leaves_the_callers_prediction_and_target_unchanged(name: str) -> None:
    loss, p, t = _loss(name)
    p_before, t_before = p.clone(), t.clone()
    loss.forward(p, t)
    loss.backward()
    assert torch.equal(p, p_before) and torch.equal(t, t_before)


@pytest.mark.parametrize("name", PLUGIN_LOSSES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_loss_on_an_empty_batch_is_nan_for_mean_and_0_for_sum_as_torch(
    name: str, reduction: str
) -> None:
    loss, p, t = _loss(name, shape=(0, 3))
    if "reduction" not in inspect.signature(type(loss)).parameters:
        pytest.skip(f"{name} has no reduction argument")
    loss = type(loss)(reduction=reduction)
    value = loss.forward(p, t)
    torch.testing.assert_close(value, loss.reference(p, t), equal_nan=True)
    assert value.isnan() if reduction == "mean" else value == 0
    assert loss.backward().shape == p.shape


@pytest.mark.parametrize(
    "copy_of",
    [copy.copy, copy.deepcopy, lambda o: pickle.loads(pickle.dumps(o))],
    ids=["copy", "deepcopy", "pickle"],
)
@pytest.mark.parametrize(
    ("kind", "name"),
    [("layers", n) for n in PLUGIN_LAYERS] + [("losses", n) for n in PLUGIN_LOSSES],
)
def test_a_copied_or_pickled_component_still_knows_it_has_no_forward(
    kind: str, name: str, copy_of: Callable[[Any], Any]
) -> None:
    component, _ = plugin_registry().get(kind, name).example()
    clone = copy_of(component)
    with pytest.raises(StateError, match=r"backward\(\) called without a preceding forward"):
        clone.backward(torch.ones(4, 3)) if kind == "layers" else clone.backward()


def test_a_copy_made_between_forward_and_backward_can_run_the_backward() -> None:
    layer, x = _layer("linear")
    y = layer.forward(x)
    clone = pickle.loads(pickle.dumps(layer))
    torch.testing.assert_close(
        clone.backward(torch.ones_like(y)), layer.backward(torch.ones_like(y))
    )
