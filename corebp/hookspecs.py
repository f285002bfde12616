"""Every hook corebp calls. Plugins implement them with `@corebp.hookimpl`.

Registration hooks return a dict {component name: class}; names are lower-case and
unique across all plugins. Training-event hooks receive the running `Trainer`
(`corebp.trainer.Trainer`), whose `model`, `optimizer`, `loss`, `recipe` and `step`
they may read; hooks that may act say so. docs/plugins.md documents each hook with its
signature and when it is called (tests/plugins/test_hookspecs_documented.py checks that).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

    from torch import Tensor

    from corebp.data_source import DataSource
    from corebp.layer import Layer
    from corebp.loss import Loss
    from corebp.metric import Metric
    from corebp.optimizer import Optimizer
    from corebp.schedule import Schedule
    from corebp.trainer import Trainer

PROJECT = "corebp"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- registration -----------------------------------------------------------------------
@hookspec
def corebp_register_layers() -> dict[str, type[Layer]]:
    """Return the layers this plugin provides, by the name a recipe uses."""


@hookspec
def corebp_register_losses() -> dict[str, type[Loss]]:
    """Return the losses this plugin provides, by the name a recipe uses."""


@hookspec
def corebp_register_optimizers() -> dict[str, type[Optimizer]]:
    """Return the optimizers (update rules) this plugin provides, by name."""


@hookspec
def corebp_register_schedules() -> dict[str, type[Schedule]]:
    """Return the learning-rate schedules this plugin provides, by name."""


@hookspec
def corebp_register_metrics() -> dict[str, type[Metric]]:
    """Return the metrics this plugin provides, by name."""


@hookspec
def corebp_register_data_sources() -> dict[str, type[DataSource]]:
    """Return the data sources this plugin provides, by name."""


@hookspec
def corebp_recipe_files() -> list[Path]:
    """Return the recipe YAML files this plugin ships; each runs by its file name without .yaml."""


# -- training events --------------------------------------------------------------------
@hookspec
def corebp_run_start(trainer: Trainer) -> None:
    """Called once before the first epoch, after model, optimizer and data are built."""


@hookspec
def corebp_run_end(trainer: Trainer, summary: dict[str, Any]) -> None:
    """Called once after the last epoch with the run summary; a plugin may add keys to it."""


@hookspec
def corebp_epoch_start(trainer: Trainer, epoch: int) -> None:
    """Called before each epoch (epochs count from 0)."""


@hookspec
def corebp_epoch_end(trainer: Trainer, epoch: int, metrics: dict[str, Any]) -> None:
    """Called after each epoch's evaluation with its metrics; a plugin may add keys to them."""


@hookspec
def corebp_after_backward(trainer: Trainer, x: Tensor, y: Tensor) -> None:
    """Called after each batch's backward, before the update; may read or change `grads`."""


@hookspec
def corebp_after_update(trainer: Trainer) -> None:
    """Called after each optimizer update; may read or change `params`."""
