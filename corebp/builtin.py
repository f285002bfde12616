"""The core's own plugin: its layers, losses and the backprop learning rule, and the recipe's
`checks`, through the same hooks a third-party plugin uses."""

from __future__ import annotations

from corebp import layers, losses
from corebp.alignment import AlignmentCheck
from corebp.autograd_check import AutogradCheck
from corebp.hookspecs import TrainingRun, hookimpl
from corebp.learning_rule import Backprop


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
