"""Assembly: a validated recipe and the registry in, a run's parts out.

`assemble(loaded, reg)` is the one place a run's components are built (each from its recipe
node, by `corebp.recipe.components.instantiate`): the data, the model, loss and optimizer
that validation already built (`LoadedRecipe.take_core`), the learning rule, schedule,
metrics and loggers, and the run's listeners: the checks the plugins attach
(`corebp_run_listeners`), the loggers, the data-parallel all-reduce, the schedule, the
divergence guard and the progress display. Everything wrong with a recipe that only shows
once it meets its data (the layer widths) raises a `ConfigError` here, before training.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy
import torch

from corebp.contracts.data_source import DataSource
from corebp.contracts.learning_rule import LearningRule, rule_generator
from corebp.contracts.logger import Logger
from corebp.contracts.loss import Loss
from corebp.contracts.metric import Metric
from corebp.contracts.optimizer import Optimizer
from corebp.contracts.schedule import Schedule
from corebp.errors import ConfigError, CorebpError
from corebp.layers.sequential import Sequential
from corebp.plugins import Registry
from corebp.recipe.components import instantiate
from corebp.recipe.load import LoadedRecipe
from corebp.recipe.schema import Recipe
from corebp.training.distributed import require_shard
from corebp.training.listeners import Guard, LearningRateSchedule
from corebp.training.progress import EpochLines, ProgressBar, live, wants_bar
from corebp.training.streams import Streams
from corebp.training.view import RunView

if TYPE_CHECKING:
    from corebp.training.distributed import DataParallel


def resolve_device(name: str) -> torch.device:
    """`auto` is cuda when available, else cpu; `cuda` without a GPU is a ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "train.device: 'cuda' but torch finds no CUDA device; expected cpu or auto on this "
            "machine (override with train.device=auto)."
        )
    return torch.device(name)


def _flushing_denormals() -> bool:
    # torch has no getter: with flushing on, a subnormal input reads as zero.
    return (torch.tensor(1e-310, dtype=torch.float64) * 1.0).item() == 0.0


@contextmanager
def denormals_flushed(when: bool = True) -> Iterator[None]:
    """Inside the block, `torch.set_flush_denormal(True)` if `when`; afterwards the setting is
    what it was. With `when` False nothing changes."""
    if not when or _flushing_denormals():
        yield
        return
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def build_metrics(reg: Registry, recipe: Recipe, num_classes: int) -> dict[str, Metric]:
    """Fresh metric instances, one per entry of the recipe's `metrics`."""
    return {
        m.type: instantiate(reg, "metrics", m.type, m.args, f"metrics.{i}", num_classes=num_classes)
        for i, m in enumerate(recipe.metrics)
    }


def attach_learning_rule(recipe: Recipe, reg: Registry, model: Sequential) -> LearningRule:
    """Build the recipe's `learning_rule` with its own generator and attach it to `model`."""
    spec = recipe.learning_rule
    generator = rule_generator(recipe.train.seed)
    rule: LearningRule = instantiate(
        reg, "learning_rules", spec.type, spec.args, "learning_rule", generator=generator
    )
    rule.attach(model)
    return rule


def train_rule_tensors(rule: LearningRule, optimizer: Optimizer) -> None:
    """Have the run's optimizer train the rule's own tensors too (none for most rules)."""
    if not rule.params:
        return
    try:
        optimizer.include(rule.params, rule.grads)
    except ValueError as e:
        raise ConfigError(f"learning_rule: {e}; name the rule's own tensors apart.") from None


@dataclass(eq=False)
class Parts:
    """Everything one run trains with; `Trainer` runs the loop over them."""

    name: str
    recipe: Recipe
    device: torch.device
    dtype: torch.dtype
    #: Whether training and evaluation flush subnormal floats to zero (CPU only).
    flush_denormal: bool
    data: DataSource
    #: What `data.batches` is given besides the recipe's batching: this rank's shard.
    shard: dict[str, Any]
    steps_per_epoch: int
    total_steps: int
    model: Sequential
    loss: Loss
    optimizer: Optimizer
    learning_rule: LearningRule
    schedule: Schedule | None
    #: The training metrics (accumulated over an epoch; checkpointed mid-epoch).
    metrics: dict[str, Metric]
    loggers: list[Logger]
    #: Every random stream the run draws from, the shuffle's included.
    streams: Streams
    #: What hooks see of the run.
    view: RunView
    #: This run's plugin manager: the plugins and every listener of this run.
    events: pluggy.PluginManager
    guard: Guard


def assemble(
    loaded: LoadedRecipe,
    reg: Registry,
    progress: str | None = None,
    parallel: DataParallel | None = None,
) -> Parts:
    """Build every part of a run of `loaded` (see the module docstring); `progress` overrides
    `output.progress`. With `parallel`, this process's shard and the gradient all-reduce."""
    recipe = loaded.recipe
    writes = parallel is None or parallel.writes
    device = resolve_device(recipe.train.device) if parallel is None else parallel.device
    dtype = getattr(torch, recipe.train.dtype)
    flush = device.type == "cpu" and recipe.train.flush_denormal
    seed = recipe.train.seed

    d = recipe.data
    source_args = dict(d.args) if d.root is None else {**d.args, "root": d.root}
    data: DataSource = instantiate(
        reg,
        "data_sources",
        d.source,
        source_args,
        "data",
        device=device,
        dtype=dtype,
        seed=seed,
        validation_split=d.validation_split,
    )
    shard: dict[str, Any] = {}
    if parallel is not None:
        require_shard(data.batches, parallel.world, f"data.source {d.source!r}")
        shard = {"shard": parallel.shard}
    round_ = math.floor if d.drop_last else math.ceil
    steps_per_epoch = round_(data.num_examples("train") / d.batch_size)
    total_steps = steps_per_epoch * recipe.train.epochs

    # Built by validation (corebp.recipe.build): drawn after torch.manual_seed(seed) on the
    # CPU in float32, so they are the same numbers on every device and dtype; torch's global
    # generator continues from where those draws left it.
    core = loaded.take_core(reg)
    torch.set_rng_state(core.rng)
    model, loss, optimizer = core.model, core.loss, core.optimizer
    model.to(device, dtype)
    # state an optimizer made when it was built follows its parameters to the device
    optimizer.load_state_dict(optimizer.state_dict())
    learning_rule = attach_learning_rule(recipe, reg, model)
    train_rule_tensors(learning_rule, optimizer)
    check_model_fits_data(model, loss, data, device, dtype, learning_rule)
    if parallel is not None:
        parallel.attach(recipe, model, loss, learning_rule)
    schedule = None
    if recipe.schedule is not None:
        schedule = instantiate(
            reg,
            "schedules",
            recipe.schedule.type,
            recipe.schedule.args,
            "schedule",
            base_lr=optimizer.lr,
            steps_per_epoch=steps_per_epoch,
            total_steps=total_steps,
        )
    names = [m.type for m in recipe.metrics]
    duplicate = {n for n in names if names.count(n) > 1}
    if duplicate:
        raise ConfigError(f"metrics: {sorted(duplicate)} listed twice; expected each metric once.")
    new_metrics = functools.partial(build_metrics, reg, recipe, data.num_classes)
    loggers: list[Logger] = [
        instantiate(reg, "loggers", s.type, s.args, f"output.loggers.{i}")
        for i, s in enumerate(recipe.output.loggers)
    ]
    if not writes:  # built (so checked) on every rank; only rank 0 logs
        loggers = []
    view = RunView(
        recipe,
        model,
        loss,
        optimizer,
        learning_rule,
        data,
        new_metrics,
        functools.partial(denormals_flushed, flush),
    )
    metrics = new_metrics()
    events = reg.run_events(view)
    for i, logger in enumerate(loggers):
        events.register(logger, name=f"output.loggers.{i}")
    if parallel is not None:  # after the plugins': every tryfirst hook sees this rank's gradients
        events.register(parallel, name="core/DataParallel")
    if schedule is not None:  # last, tryfirst: every hook sees the coming update's rate
        events.register(LearningRateSchedule(schedule), name="core/schedule")
    guard = Guard(steps_per_epoch, parallel)
    events.register(guard, name="core/guard")
    mode = recipe.output.progress if progress is None else progress
    if writes:
        shows: object = EpochLines()
        if wants_bar(mode):
            shows = ProgressBar(steps_per_epoch, functools.partial(live, metrics))
        events.register(shows, name="core/progress")
    return Parts(
        name=loaded.name,
        recipe=recipe,
        device=device,
        dtype=dtype,
        flush_denormal=flush,
        data=data,
        shard=shard,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        model=model,
        loss=loss,
        optimizer=optimizer,
        learning_rule=learning_rule,
        schedule=schedule,
        metrics=metrics,
        loggers=loggers,
        streams=Streams(model, seed, device, parallel),
        view=view,
        events=events,
        guard=guard,
    )


def check_model_fits_data(
    model: Sequential,
    loss: Loss,
    data: DataSource,
    device: torch.device,
    dtype: torch.dtype,
    rule: LearningRule | None = None,
) -> None:
    """Push one example through the model and loss (eval mode, no RNG drawn): the layer
    widths must chain from the data's input shape to one output per class (of the rule's
    inference, for a rule that has its own)."""
    shape, classes = tuple(data.input_shape), data.num_classes
    x = torch.zeros((1, *shape), device=device, dtype=dtype)
    model.eval()
    try:
        out = model.forward(x) if rule is None else rule.infer(model, x)
        if tuple(out.shape[1:]) != (classes,):
            own = rule is not None and rule.uses("infer")
            where = "the learning rule's inference" if own else "the last layer"
            raise ConfigError(
                f"model: produces outputs of shape {tuple(out.shape[1:])} per example but "
                f"the data has {classes} classes; expected {where} to give "
                f"{classes} outputs (e.g. out_features: {classes}, or the rule's classes)."
            )
        loss.forward(out, torch.full((1,), classes - 1, device=device))
    except ConfigError:
        raise
    except CorebpError as e:
        raise ConfigError(
            f"model: does not fit the data (one example of shape {shape}, {classes} classes): {e}"
        ) from None
    finally:
        model.train()
