"""Each initialiser draws from the distribution its formula states, on a decisive sample."""

from __future__ import annotations

import math

import pytest
import torch

from corebp import Linear
from corebp.layers.init import INITIALISERS, initialise

FAN_IN, FAN_OUT = 400, 500  # 200,000 draws: a std within 1 % and a kurtosis within 0.1

#: Each name's distribution as (family, scale): N(0, scale²) or U(−scale, scale).
FORMULAS: dict[str, tuple[str, float]] = {
    "normal": ("normal", 1.0),
    "uniform": ("uniform", 1 / math.sqrt(FAN_IN)),
    "xavier": ("uniform", math.sqrt(6 / (FAN_IN + FAN_OUT))),
    "glorot": ("uniform", math.sqrt(6 / (FAN_IN + FAN_OUT))),
    "kaiming": ("normal", math.sqrt(2 / FAN_IN)),
    "he": ("normal", math.sqrt(2 / FAN_IN)),
    "lecun": ("normal", math.sqrt(1 / FAN_IN)),
    "zeros": ("zeros", 0.0),
}


def test_every_initialiser_has_its_formula_here() -> None:
    assert sorted(FORMULAS) == sorted(INITIALISERS)


def _assert_distribution(w: torch.Tensor, family: str, scale: float) -> None:
    if family == "zeros":
        assert torch.count_nonzero(w) == 0
        return
    n = w.numel()
    std = scale if family == "normal" else scale / math.sqrt(3)
    assert abs(float(w.mean())) < 5 * std / math.sqrt(n), "mean is not 0"
    assert float(w.std()) == pytest.approx(std, rel=0.01)
    kurtosis = float(((w - w.mean()) ** 4).mean() / w.var(unbiased=False) ** 2)
    assert kurtosis == pytest.approx(3.0 if family == "normal" else 1.8, abs=0.1)
    if family == "uniform":  # bounded by the scale and reaching it
        assert float(w.abs().max()) <= scale
        assert float(w.abs().max()) > 0.999 * scale


@pytest.mark.parametrize("name", sorted(INITIALISERS))
def test_initialiser_matches_its_formula(name: str) -> None:
    gen = torch.Generator().manual_seed(0)
    w = initialise(name, (FAN_IN, FAN_OUT), generator=gen, dtype=torch.float64)
    assert w.shape == (FAN_IN, FAN_OUT) and w.dtype == torch.float64
    _assert_distribution(w, *FORMULAS[name])


@pytest.mark.parametrize("std", [0.1, 3.0])
def test_normal_with_a_std_scales_the_standard_normal(std: float) -> None:
    w = Linear(FAN_IN, FAN_OUT, init="normal", std=std, generator=torch.Generator().manual_seed(0))
    _assert_distribution(w.params["W"], "normal", std)


def test_linear_default_is_torchs_uniform_1_over_sqrt_fan_in_and_zero_bias() -> None:
    layer = Linear(FAN_IN, FAN_OUT, generator=torch.Generator().manual_seed(0))
    _assert_distribution(layer.params["W"], "uniform", 1 / math.sqrt(FAN_IN))
    assert torch.count_nonzero(layer.params["b"]) == 0


def test_normal_std_1_is_exactly_the_notebooks_randn() -> None:
    torch.manual_seed(3)
    expected = torch.randn(FAN_IN, FAN_OUT)
    torch.manual_seed(3)
    torch.testing.assert_close(initialise("normal", (FAN_IN, FAN_OUT)), expected, rtol=0, atol=0)
