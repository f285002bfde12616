"""The core's own plugin: its layers, losses and the backprop learning rule, and the recipe's
`checks`, through the same hooks a third-party plugin uses."""

from __future__ import annotations

from corebp import layers, losses
from corebp.checks.alignment import AlignmentCheck
from corebp.checks.autograd import AutogradCheck
from corebp.contracts.learning_rule import Backprop
from corebp.hookspecs import TrainingRun, hookimpl


@hookimpl
def corebp_register_layers():
    return dict(layers.REGISTRY)


@hookimpl
def corebp_register_losses():
    return dict(losses.REGISTRY)


@hookimpl
def corebp_register_learning_rules():
    return {"backprop": Backprop}


@hookimpl
def corebp_run_listeners(run: TrainingRun) -> list[object]:
    checks = (AutogradCheck.for_run(run), AlignmentCheck.for_run(run))
    return [check for check in checks if check is not None]
