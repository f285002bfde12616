"""Deliberately broken components fail the conformance kit with a message naming the
component and the broken property; their correct counterparts pass."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
from corebp_data.synthetic import SyntheticSource
from corebp_metrics import Accuracy
from corebp_optim import SGD
from corebp_rules import FeedbackAlignment
from torch import Tensor

from corebp import Layer, Optimizer, Schedule
from corebp.testing import ConformanceError, assert_conforms, conformance_checks


class Softplus(Layer):
    """y = log(1 + e^{βx}) / β; dx = g ⊙ σ(βx). With `drop_beta`, the bug of the issue:
    backward uses σ(x), which is right only at the default β = 1."""

    drop_beta = False
    check_args: ClassVar = [{}, {"beta": 2.0}]

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        self.beta = beta

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return torch.nn.functional.softplus(x, beta=self.beta), x

    def update_grad_input(
        self, x: Tensor, grad_output: Tensor, params: dict[str, Tensor]
    ) -> Tensor:
        return grad_output * torch.sigmoid(x if self.drop_beta else self.beta * x)

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return torch.nn.functional.softplus(x, beta=self.beta)

    def extra_repr(self) -> str:
        return f"beta={self.beta:g}"


class BetaDroppingSoftplus(Softplus):
    drop_beta = True


class UncheckedSoftplus(BetaDroppingSoftplus):
    """The same bug, with no argument set but the defaults declared."""

    check_args: ClassVar = []


class DampeningIgnoringSGD(SGD):
    """SGD (with its torch counterpart and argument sets) that drops dampening."""

    def step(self) -> None:
        dampening, self.dampening = self.dampening, 0.0
        super().step()
        self.dampening = dampening


class ForgetfulMomentum(Optimizer):
    """Heavy-ball momentum kept outside `self.state`, so state_dict() loses it."""

    check_args: ClassVar = [{"lr": 0.05, "momentum": 0.5}]

    def __init__(self, params, grads, lr: float = 0.1, momentum: float = 0.9) -> None:
        super().__init__(params, grads, lr)
        self.momentum = momentum
        self.velocity: dict[str, Tensor] = {}

    def step(self) -> None:
        for name, p in self.params.items():
            v = self.velocity.setdefault(name, torch.zeros_like(p))
            v.mul_(self.momentum).add_(self.grads[name])
            p.add_(v, alpha=-self.lr)
        self.steps += 1


class MeanOfBatchAccuracies(Accuracy):
    """Averages per-batch accuracies, so a small batch weighs as much as a large one."""

    def reset(self) -> None:
        self.values: list[Tensor] = []

    def update(self, output: Tensor, target: Tensor, loss: Tensor) -> None:
        self.values.append((output.argmax(1) == target).double().mean())

    def compute(self) -> float:
        return 100.0 * float(torch.stack(self.values).mean()) if self.values else float("nan")


class GlobalRngSource(SyntheticSource):
    """Shuffles with torch's global RNG instead of the given or seeded generator."""

    def batches(self, split: str, batch_size: int, **kw: Any):
        kw["generator"] = None if kw.get("shuffle") else kw.get("generator")
        if kw.get("shuffle"):
            x, y = self._split(split)
            perm = torch.randperm(x.shape[0])
            return self._gathered(x, y, perm, batch_size, x.shape[0])
        return super().batches(split, batch_size, **kw)


class Scale(Layer):
    """y = x ⊙ w, w: (5,). With `overwrite`, backward sets grads["w"] instead of adding."""

    overwrite = False

    def __init__(self) -> None:
        super().__init__()
        self.add_param("w", torch.linspace(0.5, 2.0, 5))

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x * self.params["w"], x

    def acc_grad_parameters(self, x: Tensor, grad_output: Tensor) -> None:
        dw = (grad_output * x).sum(0)
        self.grads["w"].copy_(dw) if self.overwrite else self.grads["w"].add_(dw)

    def update_grad_input(
        self, x: Tensor, grad_output: Tensor, params: dict[str, Tensor]
    ) -> Tensor:
        return grad_output * params["w"]

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return x * params["w"]


class OverwritingScale(Scale):
    overwrite = True


class InPlaceTanh(Layer):
    """Computes tanh in the caller's tensor."""

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y = x.tanh_()
        return y, y

    def update_grad_input(
        self, y: Tensor, grad_output: Tensor, params: dict[str, Tensor]
    ) -> Tensor:
        return grad_output * (1 - y * y)


class StuckBufferScale(Scale):
    """Keeps a running mean of its input in an attribute, not a buffer: `.to()` and
    checkpoints leave it behind."""

    def __init__(self) -> None:
        super().__init__()
        self.running_mean = torch.zeros(5)

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self.running_mean = self.running_mean.to(x.dtype) * 0.9 + 0.1 * x.mean(0)
        return super()._forward(x)


class RunningMeanScale(Scale):
    """Keeps a running mean of its input in a buffer, updated by training forwards only;
    with `always`, eval-mode forwards update it too."""

    always = False

    def __init__(self) -> None:
        super().__init__()
        self.add_buffer("running_mean", torch.zeros(5))

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.training or self.always:
            self.buffers["running_mean"].mul_(0.9).add_(x.mean(0), alpha=0.1)
        return super()._forward(x)


class EvalUpdatingScale(RunningMeanScale):
    always = True


class DriftingSGD(SGD):
    """Moves every parameter a little even when the gradient is 0."""

    def step(self) -> None:
        super().step()
        for p in self.params.values():
            p.add_(1e-3)


class UnforgettingAccuracy(Accuracy):
    """reset() keeps the counts of earlier batches."""

    def reset(self) -> None:
        if not hasattr(self, "hits"):
            super().reset()


class IgnoresDtypeSource(SyntheticSource):
    """Yields float32 whatever dtype it was asked for."""

    def batches(self, split: str, batch_size: int, **kw: Any):
        return ((x.float(), y) for x, y in super().batches(split, batch_size, **kw))


class UntransposedFeedback(FeedbackAlignment):
    """Reports each B in the backward's (out, in) layout instead of W's (in, out)."""

    def feedback_weights(self) -> dict[int, Tensor]:
        return {int(s.name): self.used[s.name] for s in self.stand_ins if s.name in self.used}


def _failure(cls: type) -> str:
    with pytest.raises(ConformanceError) as info:
        assert_conforms(cls)
    return str(info.value)


@pytest.mark.parametrize(
    ("broken", "subject", "prop"),
    [
        (
            BetaDroppingSoftplus,
            "layer BetaDroppingSoftplus",
            "backward matches finite differences and autograd with {beta=2.0}",
        ),
        (
            UncheckedSoftplus,
            "layer UncheckedSoftplus",
            "every numeric or boolean argument is checked off its default: beta (default 1.0)",
        ),
        (
            DampeningIgnoringSGD,
            "optimizer DampeningIgnoringSGD",
            "matches its torch counterpart torch.optim.sgd.SGD with {lr=0.05, momentum=0.9, "
            "dampening=0.3",
        ),
        (
            ForgetfulMomentum,
            "optimizer ForgetfulMomentum",
            "state_dict round trip resumes identically",
        ),
        (
            MeanOfBatchAccuracies,
            "metric MeanOfBatchAccuracies",
            "updating with two parts of a batch equals updating with the whole",
        ),
        (
            GlobalRngSource,
            "data source GlobalRngSource",
            "the same seed gives the same batches",
        ),
        (OverwritingScale, "layer OverwritingScale", "gradients accumulate until zero_grad"),
        (InPlaceTanh, "layer InPlaceTanh", "forward leaves its input unchanged"),
        (
            StuckBufferScale,
            "layer StuckBufferScale",
            "buffers are registered and change only in a training forward with {}: keeps the "
            "tensor attribute 'running_mean' outside params and buffers",
        ),
        (
            EvalUpdatingScale,
            "layer EvalUpdatingScale",
            "buffers are registered and change only in a training forward with {}: "
            "buffers['running_mean'] changed during an eval-mode forward",
        ),
        (
            DriftingSGD,
            "optimizer DriftingSGD",
            "a zero gradient without weight decay leaves parameters unchanged",
        ),
        (
            UnforgettingAccuracy,
            "metric UnforgettingAccuracy",
            "reset, update and compute start afresh",
        ),
        (
            IgnoresDtypeSource,
            "data source IgnoresDtypeSource",
            "every split has the declared shapes, dtypes and sizes",
        ),
        (
            UntransposedFeedback,
            "learning rule UntransposedFeedback",
            "feedback_weights are in W's shape with {}: feedback_weights()[0] has shape (5, 6) "
            "but layer 0 has W of shape (6, 5)",
        ),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_a_broken_component_fails_naming_itself_and_the_property(broken, subject, prop) -> None:
    message = _failure(broken)
    assert f"\n- {subject}: {prop}" in message, message
    assert message.startswith(f"{subject} failed ")


@pytest.mark.parametrize(
    "fine", [Softplus, Scale, RunningMeanScale, SGD, Accuracy, SyntheticSource, FeedbackAlignment]
)
def test_the_correct_counterparts_pass(fine: type) -> None:
    assert_conforms(fine)


def test_only_the_off_default_argument_set_fails_the_gradient_check() -> None:
    failed = []
    for check in conformance_checks(BetaDroppingSoftplus):
        try:
            check()
        except ConformanceError:
            failed.append((check.prop, check.args))
    assert failed == [("backward matches finite differences and autograd", {"beta": 2.0})]


def test_a_gradient_failure_shows_the_checkers_table() -> None:
    message = _failure(BetaDroppingSoftplus)
    assert re.search(r"gradcheck BetaDroppingSoftplus\(beta=2\) on \(4, 5\).*FAILED", message)
    assert "worst: input[" in message


def test_a_class_without_a_suite_is_a_type_error_naming_the_bases() -> None:
    with pytest.raises(TypeError, match=r"Schedule'> has no conformance suite; expected a subcl"):
        conformance_checks(Schedule)


def test_check_args_that_is_not_a_list_of_dicts_is_a_type_error_naming_the_class() -> None:
    class Odd(Softplus):
        check_args: ClassVar = {"beta": 2.0}

    with pytest.raises(TypeError, match=r"Odd\.check_args is \{'beta': 2\.0\}; expected a list"):
        conformance_checks(Odd)


def test_the_failure_quoted_in_docs_plugins_md_is_the_kits() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "plugins.md").read_text(encoding="utf-8")
    quoted = re.search(r"```text\n(optimizer ForgetfulMomentum failed.*?)\n```", doc, re.S)
    assert quoted is not None
    assert quoted.group(1) == _failure(ForgetfulMomentum)
