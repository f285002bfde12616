"""Checking a training run's explicit gradients against torch autograd, step by step.

`AutogradCheck` listens to the run's `corebp_after_backward`: after each batch's explicit
backward, before the update. On every `every`-th step it has
`corebp.checks.gradcheck.compare_with_autograd` differentiate the model's and loss's `reference()`
with autograd, on a detached copy of the *same* weights and the *same* batch, and compare
with the gradients the explicit backward accumulated, per parameter tensor:

    abs error = max |g − g_autograd|,   rel error = abs error / max |g_autograd|

A step fails when abs error > atol + rtol · max |g_autograd| for some tensor (tolerances
default to corebp.checks.gradcheck's autograd tolerances for the dtype: 1e-5 + 1e-4·max in float32,
1e-13 + 1e-10·max in float64; atol keeps float32 round-off from failing a batch whose
gradients are all nearly zero). Then the run stops with `AutogradMismatch` — unless the
model or loss contains a
component with `exact_gradient = False` (a deliberate non-gradient rule, such as the
notebook's as-written sigmoid): then the difference is expected, recorded and reported
with `passed: false`, and training goes on.

The stronger `twin` mode also trains a torch twin in lockstep: the same initial weights
wrapped in `nn.Parameter`s, the model's `reference()` as its forward, autograd (through
`corebp.checks.gradcheck.reference_gradients`) for the gradients and the optimizer's declared
`torch_counterpart` (a `torch.optim` class) with the same hyperparameters and learning rate
at every step. It reports the largest parameter difference at the end and the twin's own
metrics on the test split — the recipe's metrics, evaluated with the twin as the model.

Both are wired in as a listener of the run's training events (`corebp_run_listeners`, see
`corebp.builtin`): the trainer's loop knows nothing about them.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch
from torch import Tensor, nn

from corebp.checks.gradcheck import (
    LOW_PRECISION,
    TOLERANCES,
    compare_with_autograd,
    is_exact,
    reference_gradients,
)
from corebp.contracts.layer import Layer
from corebp.contracts.loss import Loss
from corebp.contracts.optimizer import Optimizer
from corebp.errors import ConfigError, CorebpError, Diverged
from corebp.hookspecs import TrainingRun, hookimpl


class AutogradMismatch(CorebpError, RuntimeError):
    """The explicit backward's gradients differ from autograd's past the tolerance."""


class AutogradCheck:
    """The per-step explicit-vs-autograd comparison, and optionally the lockstep torch twin."""

    def __init__(
        self,
        model: Layer,
        loss: Loss,
        *,
        every: int = 1,
        rtol: float | None = None,
        atol: float | None = None,
        twin: TorchTwin | None = None,
    ) -> None:
        dtype = next(iter(model.params.values())).dtype
        self.model = model
        self.loss = loss
        self.every = every
        default_atol, default_rtol = TOLERANCES.get(dtype, LOW_PRECISION)["autograd"]
        self.rtol = default_rtol if rtol is None else rtol
        self.atol = default_atol if atol is None else atol
        self.within_tolerance = True
        self.exact = is_exact(model) and is_exact(loss)
        self.twin = twin
        self.max_abs_error = 0.0
        self.max_rel_error = 0.0
        self.worst: tuple[int, str] | None = None
        self.steps_checked = 0

    @classmethod
    def for_run(cls, run: TrainingRun) -> AutogradCheck | None:
        """The check `run.recipe.checks.autograd` asks for, or None when it is off."""
        spec = run.recipe.checks.autograd
        if spec is None:
            return None
        twin = None
        if spec.twin:
            args = {k: v for k, v in run.recipe.optimizer.args.items() if k != "lr"}
            twin = TorchTwin(run.model, run.loss, type(run.optimizer), args, run.optimizer.lr)
        check = cls(
            run.model, run.loss, every=spec.every, rtol=spec.rtol, atol=spec.atol, twin=twin
        )
        # A rule that owns the step (train_step) leaves the model's layers as they are.
        check.exact = check.exact and run.learning_rule.exact_gradient
        return check

    # Before any other plugin's hook, so that the explicit backward's own gradients are compared.
    @hookimpl(tryfirst=True)
    def corebp_after_backward(self, run: TrainingRun, x: Tensor, y: Tensor) -> None:
        """Compare this step's gradients (when due) and advance the twin with this step's lr."""
        if run.step % self.every == 0:
            self.compare(run.step, x, y)
        if self.twin is not None:
            self.twin.step(x, y, run.optimizer.lr)

    @hookimpl
    def corebp_run_end(self, run: TrainingRun, summary: dict[str, Any]) -> None:
        """Add `autograd_check` (and `torch_twin`) to the run summary."""
        summary["autograd_check"] = self.summary()
        if self.twin is not None:
            twin: dict[str, Any] = {
                "max_parameter_difference": self.twin.max_parameter_difference()
            }
            if "test" in run.data.splits():
                metrics = run.evaluate("test", forward=self.twin.predict)
                twin |= {f"test_{k}": v for k, v in metrics.items()}
            summary["torch_twin"] = twin

    def compare(self, step: int, x: Tensor, y: Tensor) -> None:
        """Compare the accumulated `model.grads` with autograd's on batch (x, y)."""
        diffs = compare_with_autograd(self.model, self.loss, x, y)
        self.steps_checked += 1
        for name, (abs_err, rel_err) in diffs.items():
            self.max_abs_error = max(self.max_abs_error, abs_err)
            if rel_err > self.max_rel_error or self.worst is None:
                self.max_rel_error = max(self.max_rel_error, rel_err)
                self.worst = (step, name)
            if not math.isfinite(abs_err) and not self._finite_reference(x, y):
                raise Diverged(
                    step,
                    f"the gradient of {name!r} is not finite, and autograd's is not finite "
                    "either (the loss or the weights overflowed; the backward is not to blame)",
                )
            scale = abs_err / rel_err if rel_err else 0.0  # max|g_autograd|
            if abs_err <= self.atol + self.rtol * scale:
                continue
            self.within_tolerance = False
            if self.exact:
                raise AutogradMismatch(
                    f"autograd check failed at step {step}, parameter {name!r}: explicit "
                    f"gradient differs from autograd by {abs_err:.3g} (relative {rel_err:.3g}, "
                    f"allowed {self.atol:g} + {self.rtol:g}·max|autograd|). The backward of a "
                    f"layer in {self.model!r} or of "
                    f"{self.loss!r} is wrong; check each layer with corebp's gradient checker."
                )

    #: What a checkpoint keeps of the check (see `state_dict`).
    STATISTICS = ("max_abs_error", "max_rel_error", "steps_checked", "within_tolerance", "worst")

    def state_dict(self) -> dict[str, Any]:
        """The statistics so far (and the twin's state), for a checkpoint."""
        state = {k: getattr(self, k) for k in self.STATISTICS}
        if self.twin is not None:
            state["twin"] = self.twin.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a `state_dict()`."""
        for k in self.STATISTICS:
            setattr(self, k, state[k])
        if self.worst is not None:
            self.worst = (int(self.worst[0]), str(self.worst[1]))
        if self.twin is not None:
            self.twin.load_state_dict(state["twin"])

    def _finite_reference(self, x: Tensor, y: Tensor) -> bool:
        """Whether autograd's gradients on this batch are all finite (on failures only)."""
        auto = reference_gradients(self.model, self.loss, x, y)
        return all(bool(g.isfinite().all()) for g in auto.values())

    @property
    def passed(self) -> bool:
        return self.steps_checked > 0 and self.within_tolerance

    def summary(self) -> dict[str, Any]:
        """What summary.json records under `autograd_check`."""
        out: dict[str, Any] = {
            "max_abs_error": self.max_abs_error,
            "max_rel_error": self.max_rel_error,
            "steps_checked": self.steps_checked,
            "every": self.every,
            "rtol": self.rtol,
            "atol": self.atol,
            "passed": self.passed,
            "exact_gradient": self.exact,
        }
        if self.worst is not None:
            out["worst_step"], out["worst_parameter"] = self.worst
        if not self.exact:
            out["note"] = (
                "the model uses a rule with exact_gradient=False (a layer, or the learning "
                "rule's stand-ins for layers), so a difference from "
                "autograd is expected; it was reported, not treated as a failure"
            )
        return out


def rule_twin_problem(rule: str) -> str:
    """Why a torch twin cannot mirror a non-gradient learning rule (autograd gives gradients)."""
    return (
        f"checks.autograd.twin: learning_rule {rule!r} does not follow the gradient, and the "
        "torch twin trains with autograd's gradients, so the two would part from the first "
        "step; set twin: false (the autograd check itself still reports the difference), or "
        "use learning_rule: {type: backprop}."
    )


def twin_problems(optimizer: type[Optimizer], args: dict[str, Any]) -> list[str]:
    """Why a torch twin cannot mirror `optimizer` with recipe `args` (less lr); [] if it can."""
    counterpart = optimizer.torch_counterpart
    if counterpart is None:
        return [
            f"checks.autograd.twin: optimizer {optimizer.__name__} declares no torch.optim "
            "counterpart (its class attribute torch_counterpart is None); set twin: false, or "
            "use an optimizer that has one."
        ]
    accepted = inspect.signature(counterpart.__init__).parameters
    unknown = [k for k in optimizer.torch_arguments(args) if k not in accepted]
    if unknown:
        return [
            f"checks.autograd.twin: torch.optim.{counterpart.__name__} takes no "
            f"{', '.join(unknown)}; drop those optimizer arguments or set twin: false."
        ]
    return []


class TorchTwin:
    """A torch.nn.Parameter + autograd + torch.optim copy of the model, trained in lockstep."""

    def __init__(
        self,
        model: Layer,
        loss: Loss,
        optimizer: type[Optimizer],
        args: dict[str, Any],
        lr: float,
    ) -> None:
        problems = twin_problems(optimizer, args)
        if problems:
            raise ConfigError(problems[0])
        counterpart: Any = optimizer.torch_counterpart  # not None: twin_problems says so
        self.model = model
        self.loss = loss
        self.params: dict[str, Tensor] = {
            k: nn.Parameter(p.detach().clone()) for k, p in model.params.items()
        }
        self.optimizer: torch.optim.Optimizer = counterpart(
            self.params.values(), lr=lr, **optimizer.torch_arguments(args)
        )

    def step(self, x: Tensor, y: Tensor, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        grads = reference_gradients(self.model, self.loss, x, y, self.params)
        for name, p in self.params.items():
            p.grad = grads[name]
        self.optimizer.step()

    def state_dict(self) -> dict[str, Any]:
        """The twin's parameters and torch optimizer state (tensors and plain values)."""
        return {
            "params": {k: p.detach().clone() for k, p in self.params.items()},
            "optimizer": self.optimizer.state_dict(),
        }

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a `state_dict()`."""
        for k, p in self.params.items():
            p.copy_(state["params"][k])
        self.optimizer.load_state_dict(state["optimizer"])

    @torch.no_grad()
    def predict(self, x: Tensor) -> Tensor:
        return self.model.reference(x, self.params)

    @torch.no_grad()
    def max_parameter_difference(self) -> float:
        return max((self.params[k] - p).abs().max().item() for k, p in self.model.params.items())
