"""The gradient checker catches a wrong backward, names the tensor, tolerates inexact rules."""

from __future__ import annotations

import json
from typing import Any

import pluggy
import pytest
import torch
import typer
from torch import Tensor
from typer.testing import CliRunner

from corebp import Dropout, Layer, Linear, MSELoss, Sequential, Sigmoid, Tanh, layers, losses
from corebp.checks.autograd import AutogradCheck
from corebp.checks.gradcheck import (
    check_layer,
    check_loss,
    compare_with_autograd,
    is_exact,
    reference_gradients,
    reference_signals,
)
from corebp.cli import check
from corebp.plugins import Component, Registry


class WrongWeightGradient(Linear):
    """A Linear whose dW is 0.1% too large."""

    def _backward(self, x: Tensor, grad_output: Tensor, input_grad: bool) -> Tensor | None:
        grad_x = super()._backward(x, grad_output, input_grad)
        self.grads["W"].mul_(1.001)
        return grad_x


class FeedbackAlignmentLike(WrongWeightGradient):
    exact_gradient = False


class NoReference(Layer):
    """y = 2x, with no `reference`."""

    def _forward(self, x: Tensor) -> tuple[Tensor, None]:
        return 2 * x, None

    def _backward(self, ctx: None, grad_output: Tensor, input_grad: bool) -> Tensor:
        return 2 * grad_output


def test_checker_fails_on_wrong_weight_gradient_and_names_the_parameter() -> None:
    report = check_layer(WrongWeightGradient(5, 3), (4, 5))
    assert not report.passed
    failed = {(r.tensor, r.method) for r in report.rows if not r.passed}
    assert failed == {("W", "finite_differences"), ("W", "autograd")}
    text = str(report)
    assert "FAILED" in text and "worst: W[" in text
    with pytest.raises(AssertionError, match=r"worst: W\[\d+, \d+\]"):
        report.raise_if_failed()


def test_checker_fails_on_wrong_weight_gradient_in_float32_too() -> None:
    assert not check_layer(WrongWeightGradient(5, 3), (4, 5), dtype=torch.float32).passed


def test_checker_marks_differences_of_inexact_layers_as_expected() -> None:
    report = check_layer(FeedbackAlignmentLike(5, 3), (4, 5))
    assert report.passed
    assert {r.tensor for r in report.rows if r.status == "expected"} == {"W"}
    assert "expected (exact_gradient=False)" in str(report)


def test_checker_reports_a_missing_reference_and_still_runs_finite_differences() -> None:
    report = check_layer(NoReference(), (3, 2))
    assert report.passed
    assert [r.method for r in report.rows if r.status == "skipped"] == ["autograd"]
    assert "no reference" in str(report)
    assert [r.tensor for r in report.rows if r.status == "ok"] == ["input"]


def test_checker_leaves_the_checked_layer_and_global_rng_untouched() -> None:
    layer = Linear(5, 3)
    before = {n: p.clone() for n, p in layer.params.items()}
    torch.manual_seed(7)
    expected_next = torch.rand(3)
    torch.manual_seed(7)
    check_layer(layer, (4, 5), dtype=torch.float32)
    assert torch.equal(torch.rand(3), expected_next)
    assert all(torch.equal(layer.params[n], before[n]) for n in before)
    assert all(not g.any() for g in layer.grads.values())
    assert layer.params["W"].dtype == torch.float32


def test_checker_replays_dropout_masks_for_finite_differences() -> None:
    for dropout in (Dropout(0.5), Dropout(0.5, seed=3), Dropout(0.5, generator=torch.Generator())):
        check_layer(Sequential(Linear(6, 4), dropout, Tanh()), (5, 6)).raise_if_failed()


def test_check_loss_uses_given_target() -> None:
    target = torch.zeros(4, 3, dtype=torch.float64)
    report = check_loss(MSELoss(), (4, 3), target=target)
    report.raise_if_failed()
    assert [r.tensor for r in report.rows] == ["prediction", "loss", "prediction"]


def test_compare_with_autograd_flags_a_wrong_gradient() -> None:
    model = Sequential(WrongWeightGradient(6, 4), Sigmoid())
    loss = MSELoss()
    x, y = torch.randn(8, 6), torch.randn(8, 4)
    loss.forward(model(x), y)
    model.backward(loss.backward())
    diffs = compare_with_autograd(model, loss, x, y)
    assert diffs["0.W"].max_rel == pytest.approx(1e-3, rel=1e-2)
    assert diffs["0.b"].max_rel < 1e-6


# -- corebp check -------------------------------------------------------------------------------
def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(check.command)
    return app


def test_check_command_passes_and_lists_every_core_layer_and_loss() -> None:
    result = CliRunner().invoke(_cli(), [])
    assert result.exit_code == 0, result.output
    for kind, registry in (("layers", layers.REGISTRY), ("losses", losses.REGISTRY)):
        for name in registry:
            assert f"{kind}  {name}" in result.output


def test_check_command_json_float32() -> None:
    result = CliRunner().invoke(_cli(), ["linear", "mse", "--dtype", "float32", "--json"])
    assert result.exit_code == 0, result.output
    data: list[dict[str, Any]] = json.loads(result.output)
    assert [(d["name"], d["args"]) for d in data] == [
        ("linear", {}),
        ("linear", {"bias": False, "init": "normal", "std": 0.5}),
        ("mse", {}),
        ("mse", {"reduction": "sum", "scale": 0.5}),
    ]
    assert all(d["report"]["dtype"] == "float32" and d["status"] == "ok" for d in data)


def test_check_command_exits_1_on_a_wrong_layer_and_prints_its_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Wrong(WrongWeightGradient):
        @classmethod
        def example(cls, batch: int = 4, features: int = 5, **overrides: Any) -> Any:
            return cls(features, 3), (batch, features)

    reg = Registry(pluggy.PluginManager("corebp"))
    reg.components["layers"]["wrong"] = Component("layers", "wrong", Wrong, "test")
    reg.components["layers"]["inexact"] = Component(
        "layers", "inexact", FeedbackAlignmentLike, "test"
    )
    monkeypatch.setattr(check, "registry", lambda: reg)
    result = CliRunner().invoke(_cli(), [])
    assert result.exit_code == 1
    assert "wrong: gradcheck" in result.output and "worst: W[" in result.output
    assert "inexact" not in result.stderr


def test_check_command_rejects_unknown_names_and_dtypes() -> None:
    result = CliRunner().invoke(_cli(), ["lineer"])
    assert "Did you mean 'linear'?" in str(result.exception)
    result = CliRunner().invoke(_cli(), ["--dtype", "float16"])
    assert "expected one of: float64, float32" in str(result.exception)


def test_a_sequential_containing_an_inexact_layer_expects_differences() -> None:
    report = check_layer(Sequential(FeedbackAlignmentLike(5, 3), Sigmoid()), (4, 5))
    assert report.passed and not report.exact_gradient
    assert {r.tensor for r in report.rows if r.status == "expected"} == {"0.W"}


def test_reference_gradients_differentiate_at_given_parameters() -> None:
    model = Sequential(Linear(6, 4), Sigmoid())
    loss = MSELoss(reduction="sum")
    x, y = torch.randn(8, 6, dtype=torch.float64), torch.randn(8, 4, dtype=torch.float64)
    model.to(dtype=torch.float64)
    twin = {n: torch.nn.Parameter(p.detach() * 2) for n, p in model.params.items()}
    grads = reference_gradients(model, loss, x, y, twin)
    W, b = twin["0.W"], twin["0.b"]
    out = torch.sigmoid(x @ W + b)
    expected = torch.autograd.grad(((out - y) ** 2).sum(), [W, b])
    torch.testing.assert_close(grads["0.W"], expected[0])
    torch.testing.assert_close(grads["0.b"], expected[1])


class Wrapper(Layer):
    """A container that keeps its inner layer in an attribute, not in `layers`."""

    def __init__(self, inner: Layer) -> None:
        super().__init__()
        self.inner = inner
        self.params, self.grads = inner.params, inner.grads

    def _forward(self, x: Tensor) -> tuple[Tensor, None]:
        return self.inner.forward(x), None

    def _backward(self, ctx: None, grad_output: Tensor, input_grad: bool) -> Tensor | None:
        return self.inner.backward(grad_output, input_grad)

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return self.inner.reference(x, params)


def test_the_checker_and_the_training_check_agree_on_what_is_exact() -> None:
    """One traversal answers "is this model's gradient exact?" for both (checks.gradcheck)."""
    model = Sequential(Wrapper(FeedbackAlignmentLike(5, 3)), Sigmoid())
    assert not is_exact(model)
    assert not check_layer(model, (4, 5)).exact_gradient
    loss = MSELoss()
    x, y = torch.randn(4, 5), torch.randn(4, 3)
    loss.forward(model(x), y)
    model.backward(loss.backward())
    check = AutogradCheck(model, loss)
    check.compare(0, x, y)  # a difference, expected: no AutogradMismatch
    assert check.summary()["exact_gradient"] is False and check.within_tolerance is False


def test_reference_signals_accept_a_batch_made_under_inference_mode():
    torch.manual_seed(0)
    model, loss = Sequential(Linear(3, 4), Tanh(), Linear(4, 2)), MSELoss()
    x, y = torch.randn(5, 3), torch.randn(5, 2)
    with torch.inference_mode():  # e.g. a data source that builds its batches this way
        x_inf, y_inf = x.clone(), y.clone()
    expected = reference_gradients(model, loss, x, y)
    got = reference_gradients(model, loss, x_inf, y_inf)
    grads, errors = reference_signals(model, loss, x_inf, y_inf, [0])
    for name, g in expected.items():
        assert torch.equal(got[name], g) and torch.equal(grads[name], g), name
    assert errors[0].shape == (5, 4)
