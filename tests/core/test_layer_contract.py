"""One contract for every registered layer and loss: backward = finite differences = autograd."""

from __future__ import annotations

import inspect

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from corebp import layers, losses
from corebp.gradcheck import check_layer, check_loss

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
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "softmax", "dropout"])
def test_shape_agnostic_layers_pass_the_checker_on_3d_input(name: str, dtype: torch.dtype) -> None:
    layer, _ = layers.REGISTRY[name].example()
    check_layer(layer, (2, 3, 4), dtype=dtype).raise_if_failed()
