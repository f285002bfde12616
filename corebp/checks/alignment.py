"""Alignment diagnostics: how close a learning rule's credit assignment is to backprop's.

`AlignmentCheck` listens to the run's `corebp_after_backward`, after every other listener and
before the update. On every `every`-th step (step 0 included) it has
`corebp.checks.gradcheck.reference_signals` differentiate the model's and loss's `reference()` with
autograd, on the same weights and batch, and measures per layer that learns (each top-level
layer with a weight `W`, named like its parameter, "0.W") the angle in degrees

    update_vs_gradient   ∠(ΔW, ∇_W L)      ΔW: model.grads[W], what the optimizer is about to use
    feedback_vs_weight   ∠(B, W)           B: what the rule sent errors through in W's place
    error_vs_backprop    ∠(δ, ∂L/∂y)       δ: the error the layer's backward received

with ∠(a, b) = 2·atan2(‖â − b̂‖, ‖â + b̂‖) (â = a/‖a‖; accurate near 0° too), over all of the
tensor's elements (the whole batch for δ). B comes from the rule's `feedback_weights()` (no
entry there: no `feedback_vs_weight`); δ from an `ErrorTap` the check puts around each layer
that learns, so every rule, backprop included, gets `update_vs_gradient` and
`error_vs_backprop`. Under backprop both are 0 up to rounding.

Each measurement is a row of `run.records` (metrics.jsonl, between the epoch rows):
`{"step": n, "alignment": {"0.W": {"update_vs_gradient": ..., ...}, ...}}`; summary.json gets
`alignment`: `every`, `steps_measured` and per layer and angle its first, last, min and mean;
the run directory gets alignment.png (`corebp.training.plots.alignment_figure`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from corebp.checks.gradcheck import reference_signals
from corebp.contracts.layer import Layer, Wrapper
from corebp.contracts.learning_rule import LearningRule
from corebp.contracts.loss import Loss
from corebp.hookspecs import TrainingRun, hookimpl
from corebp.layers.sequential import Sequential

#: The angles measured, in the order they are plotted.
ANGLES = ("update_vs_gradient", "feedback_vs_weight", "error_vs_backprop")


class ErrorTap(Wrapper):
    """A layer's forward and backward, keeping the error its backward last received."""

    def __init__(self, layer: Layer) -> None:
        super().__init__(layer)
        #: The grad_output of the last backward (the error delivered to the layer).
        self.error: Tensor | None = None

    def _forward(self, x: Tensor) -> tuple[Tensor, None]:
        return self.layer.forward(x), None

    def _backward(self, ctx: None, grad_output: Tensor, input_grad: bool) -> Tensor | None:
        self.error = grad_output
        return self.layer.backward(grad_output, input_grad)


def angle(a: Tensor, b: Tensor) -> Tensor:
    """The angle in degrees between a and b as vectors (0-dim, float64; NaN if one is 0)."""
    a, b = a.detach().flatten().double(), b.detach().flatten().double()
    a, b = a / a.norm(), b / b.norm()
    return torch.rad2deg(2 * torch.atan2((a - b).norm(), (a + b).norm()))


class AlignmentCheck:
    """Per-layer angles between the rule's signals and backprop's, every `every` steps."""

    def __init__(self, model: Sequential, loss: Loss, rule: LearningRule, every: int) -> None:
        self.model = model
        self.loss = loss
        self.rule = rule
        self.every = every
        #: The tap around each layer that learns, by its position in the model.
        self.taps: dict[int, ErrorTap] = {}
        for i, layer in enumerate(list(model.layers)):
            if "W" in layer.params:
                self.taps[i] = tap = ErrorTap(layer)
                model.replace(i, tap)

    @classmethod
    def for_run(cls, run: TrainingRun) -> AlignmentCheck | None:
        """The check `run.recipe.checks.alignment` asks for, or None when it is off."""
        spec = run.recipe.checks.alignment
        if spec is None:
            return None
        return cls(run.model, run.loss, run.learning_rule, spec.every)

    # Last: the gradients every other listener has left are the ones the optimizer uses.
    @hookimpl(trylast=True)
    def corebp_after_backward(self, run: TrainingRun, x: Tensor, y: Tensor) -> None:
        """Measure the angles on this batch when due, into `run.records`."""
        if run.step % self.every == 0:
            run.records.append({"step": run.step, "alignment": self.measure(x, y)})

    @hookimpl
    def corebp_run_end(self, run: TrainingRun, summary: dict[str, Any]) -> None:
        """Add `alignment` to the run summary."""
        summary["alignment"] = summarise(run.records, self.every)

    def measure(self, x: Tensor, y: Tensor) -> dict[str, dict[str, float | None]]:
        """{"<i>.W": {angle name: degrees}} on batch (x, y), right after its backward."""
        true_grads, true_errors = reference_signals(self.model, self.loss, x, y, list(self.taps))
        feedback = self.rule.feedback_weights()
        angles: dict[str, dict[str, Tensor]] = {}
        for i, tap in self.taps.items():
            name = f"{i}.W"
            found = {"update_vs_gradient": angle(self.model.grads[name], true_grads[name])}
            B = feedback.get(i)
            if B is not None:
                found["feedback_vs_weight"] = angle(B, tap.params["W"])
            if tap.error is not None:
                found["error_vs_backprop"] = angle(tap.error, true_errors[i])
                tap.error = None
            angles[name] = found
        flat = [t for found in angles.values() for t in found.values()]
        values = iter(torch.stack(flat).tolist())  # one host sync for all angles
        return {name: {k: _finite(next(values)) for k in found} for name, found in angles.items()}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def summarise(records: list[dict[str, Any]], every: int) -> dict[str, Any]:
    """summary.json's `alignment`: per layer and angle the first, last, min and mean (degrees)
    over the measured steps (None where an angle was undefined)."""
    series: dict[str, dict[str, list[float]]] = {}
    measured = [r["alignment"] for r in records if "alignment" in r]
    for row in measured:
        for layer, found in row.items():
            for k, v in found.items():
                if v is not None:
                    series.setdefault(layer, {}).setdefault(k, []).append(v)
    return {
        "every": every,
        "steps_measured": len(measured),
        "layers": {
            layer: {
                k: {"first": v[0], "last": v[-1], "min": min(v), "mean": sum(v) / len(v)}
                for k, v in found.items()
            }
            for layer, found in series.items()
        },
    }
