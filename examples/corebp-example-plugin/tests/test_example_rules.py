"""The example plugin's own tests: Lion's update rule and Swish's backward pass, written out,
and corebp's conformance kit on both (its fixtures come with corebp: no conftest needed)."""

from __future__ import annotations

import pytest
import torch
from corebp_example import Lion, Swish

import corebp


def test_lion_first_step_moves_every_coordinate_by_lr_against_the_gradient_sign() -> None:
    p = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    g = torch.tensor([0.5, -4.0, 0.0], dtype=torch.float64)
    Lion({"p": p}, {"p": g}, lr=0.1).step()
    assert torch.equal(p, torch.tensor([0.9, -1.9, 3.0], dtype=torch.float64))


def test_lion_matches_the_rule_written_out_over_ten_steps_float64() -> None:
    gen = torch.Generator().manual_seed(0)
    p = torch.randn(5, 4, dtype=torch.float64, generator=gen)
    expected, m = p.clone(), torch.zeros_like(p)
    g = torch.zeros_like(p)
    opt = Lion({"w": p}, {"w": g}, lr=0.01, betas=(0.9, 0.99), weight_decay=0.1)
    for _ in range(10):
        g.copy_(torch.randn(p.shape, dtype=torch.float64, generator=gen))
        opt.step()
        expected = expected * (1 - 0.01 * 0.1) - 0.01 * torch.sign(0.9 * m + 0.1 * g)
        m = 0.99 * m + 0.01 * g
    torch.testing.assert_close(p, expected, rtol=1e-12, atol=1e-12)


def test_lion_rejects_a_beta_outside_zero_one() -> None:
    with pytest.raises(corebp.ConfigError, match=r"betas=\(0\.9, 1\.5\)"):
        Lion({}, {}, betas=(0.9, 1.5))


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4)])
def test_swish_backward_matches_autograd_float64(shape: tuple[int, ...]) -> None:
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    g = torch.randn(shape, dtype=torch.float64)
    layer = Swish()
    y = layer.forward(x.detach())
    dx = layer.backward(g)
    (ref_dx,) = torch.autograd.grad(layer.reference(x, {}), x, g)
    torch.testing.assert_close(y, layer.reference(x, {}).detach(), rtol=0, atol=0)
    torch.testing.assert_close(dx, ref_dx, rtol=1e-12, atol=1e-12)


def test_lion_passes_corebps_conformance_kit(corebp_conformance) -> None:
    corebp_conformance("lion")  # found through the entry point, then every optimizer check


def test_swish_passes_corebps_conformance_kit(corebp_conformance) -> None:
    corebp_conformance(Swish)
