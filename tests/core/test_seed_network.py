"""The notebook's 784-100-10 sigmoid network: explicit gradients equal autograd's to 1e-10."""

from __future__ import annotations

import pytest
import torch

from corebp import Linear, MSELoss, Sequential, Sigmoid
from corebp.checks.gradcheck import compare_with_autograd


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("init", ["uniform", "normal"])
def test_seed_network_gradients_match_autograd_float64(init: str) -> None:
    torch.manual_seed(0)
    model = Sequential(
        Linear(784, 100, bias=False, init=init),
        Sigmoid(),
        Linear(100, 10, bias=False, init=init),
        Sigmoid(),
    ).to(dtype=torch.float64)
    loss = MSELoss(reduction="sum", scale=0.5)
    for _ in range(3):
        x = torch.randn(32, 784, dtype=torch.float64)
        labels = torch.randint(10, (32,))
        onehot = torch.nn.functional.one_hot(labels, 10).to(torch.float64)
        model.zero_grad()
        out = model(x)
        value = loss.forward(out, onehot)
        model.backward(loss.backward())

        # The notebook's formula, differentiated by autograd, independent of corebp.
        W1 = model.params["0.W"].detach().clone().requires_grad_(True)
        W2 = model.params["2.W"].detach().clone().requires_grad_(True)
        reference = 0.5 * ((torch.sigmoid(torch.sigmoid(x @ W1) @ W2) - onehot) ** 2).sum()
        reference.backward()
        reference = reference.detach()
        assert abs(float(value) - reference.item()) <= 1e-12 * reference.item()
        assert _rel(model.grads["0.W"], W1.grad) <= 1e-10
        assert _rel(model.grads["2.W"], W2.grad) <= 1e-10

        diffs = compare_with_autograd(model, loss, x, onehot)
        assert set(diffs) == {"0.W", "2.W"}
        assert all(d.max_rel <= 1e-10 for d in diffs.values()), diffs


def test_seed_network_gradients_match_autograd_float32_loosely() -> None:
    torch.manual_seed(0)
    model = Sequential(
        Linear(784, 100, bias=False), Sigmoid(), Linear(100, 10, bias=False), Sigmoid()
    )
    loss = MSELoss(reduction="sum", scale=0.5)
    x, labels = torch.randn(32, 784), torch.randint(10, (32,))
    loss.forward(model(x), labels)
    model.backward(loss.backward(), input_grad=False)
    diffs = compare_with_autograd(model, loss, x, labels)
    assert set(diffs) == {"0.W", "2.W"}, "one comparison per parameter, none left out"
    assert all(d.max_rel <= 1e-5 for d in diffs.values()), diffs


def test_linear_normal_init_reproduces_torch_randn_under_the_same_seed() -> None:
    torch.manual_seed(1234)
    expected = torch.randn(784, 100)
    torch.manual_seed(1234)
    layer = Linear(784, 100, bias=False, init="normal")
    assert torch.equal(layer.params["W"], expected)
