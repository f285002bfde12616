"""Every hook corebp calls. Plugins implement them with `@corebp.hookimpl`.

Registration hooks return a dict {component name: class}; names are lower-case and
unique across all plugins. Training-event hooks receive `run`, a `TrainingRun`: the narrow
view of a running training that a plugin may read (and, where a hook says so, change).
docs/plugins.md documents each hook with its signature and when it is called
(tests/plugins/test_hookspecs_documented.py checks that).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from corebp.contracts.run import TrainingRun
from corebp.markers import PROJECT, hookimpl, hookspec

if TYPE_CHECKING:
    from pathlib import Path

    import typer
    from torch import Tensor

    from corebp.contracts.data_source import DataSource
    from corebp.contracts.launcher import Launcher
    from corebp.contracts.layer import Layer
    from corebp.contracts.learning_rule import LearningRule
    from corebp.contracts.logger import Logger
    from corebp.contracts.loss import Loss
    from corebp.contracts.metric import Metric
    from corebp.contracts.optimizer import Optimizer
    from corebp.contracts.schedule import Schedule

__all__ = ["PROJECT", "TrainingRun", "hookimpl", "hookspec"]


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
def corebp_register_learning_rules() -> dict[str, type[LearningRule]]:
    """Return the learning rules (how backward assigns credit) this plugin provides, by name."""


@hookspec
def corebp_register_loggers() -> dict[str, type[Logger]]:
    """Return the loggers (metric sinks a recipe lists in output.loggers) this plugin provides."""


@hookspec
def corebp_register_launchers() -> dict[str, type[Launcher]]:
    """Return the launchers (where `corebp sweep --launcher NAME` runs each run) it provides."""


@hookspec
def corebp_recipe_files() -> list[Path]:
    """Return the recipe YAML files this plugin ships; each runs by its file name without .yaml."""


@hookspec
def corebp_register_commands(cli: typer.Typer) -> None:
    """Add subcommands to the `corebp` command line (`cli.command(...)`, `cli.add_typer(...)`)."""


@hookspec
def corebp_run_listeners(run: TrainingRun) -> list[object]:
    """Return objects whose `@hookimpl` methods listen to this run's training events only."""


# -- training events --------------------------------------------------------------------
@hookspec
def corebp_run_start(run: TrainingRun) -> None:
    """Called once before the first epoch, after model, optimizer and data are built."""


@hookspec
def corebp_run_end(run: TrainingRun, summary: dict[str, Any]) -> None:
    """Called once after the last epoch with the run summary; a plugin may add keys to it."""


@hookspec
def corebp_epoch_start(run: TrainingRun, epoch: int) -> None:
    """Called before each epoch (epochs count from 0)."""


@hookspec
def corebp_epoch_end(run: TrainingRun, epoch: int, metrics: dict[str, Any]) -> None:
    """Called after each epoch's evaluation with its metrics; a plugin may add keys to them."""


@hookspec
def corebp_after_backward(run: TrainingRun, x: Tensor, y: Tensor, loss: Tensor) -> None:
    """Called after each batch's backward and its `loss`, before the update; may change grads."""


@hookspec
def corebp_after_update(run: TrainingRun) -> None:
    """Called after each optimizer update; may change `run.model.params`."""


@hookspec
def corebp_step_end(run: TrainingRun, loss: Tensor) -> None:
    """Called after each step, `run.step` counting the updates done; may stop the run."""
