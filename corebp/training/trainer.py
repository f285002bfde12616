"""The training loop: forward → loss → backward → update, and hooks for everything else.

`Trainer(loaded_recipe)` builds everything a recipe describes (data, model, loss, optimizer,
schedule, metrics, and the listeners plugins attach to this run — the autograd check is one)
and raises a `CorebpError` for anything wrong *before* training starts. `train_epoch(epoch)`
is exactly the recipe's loop, with no host-device sync per step: metrics accumulate on the
device and are read once per epoch. `fit()` runs all epochs with evaluation and returns the
run summary. Training-event hooks see the run through a `RunView` (`corebp.training.view`),
never the Trainer itself.
"""

from __future__ import annotations

import functools
import itertools
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from corebp.contracts.learning_rule import LearningRule, rule_generator
from corebp.contracts.logger import Logger
from corebp.contracts.metric import Metric
from corebp.errors import ConfigError, CorebpError, Diverged
from corebp.layers.sequential import Sequential
from corebp.plugins import Registry, registry
from corebp.recipe.components import instantiate
from corebp.recipe.load import LoadedRecipe
from corebp.recipe.schema import Recipe
from corebp.training.distributed import require_shard
from corebp.training.progress import ProgressBar, epoch_line, wants_bar
from corebp.training.view import RunView

if TYPE_CHECKING:
    from corebp.training.distributed import DataParallel

EpochCallback = Callable[[dict[str, Any]], object]

#: The divergence guard reads its device-side flag every this many updates (and before
#: every checkpoint), so that the loop never waits for the device on each step.
DIVERGENCE_CHECK_EVERY = 64


class Interrupted(Exception):
    """A stop was requested (SIGINT/SIGTERM); raised between two steps, with the state whole."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


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


class Trainer:
    """Everything one recipe run needs, built and checked up front.

    With `parallel` (a torchrun launch, see `training.distributed`) this process trains on its
    shard of every batch, its gradients are all-reduced after the backward, and only rank 0
    evaluates and prints.
    """

    def __init__(
        self,
        loaded: LoadedRecipe,
        reg: Registry | None = None,
        progress: str | None = None,
        parallel: DataParallel | None = None,
    ) -> None:
        reg = registry() if reg is None else reg
        recipe = loaded.recipe
        self.name = loaded.name
        self.recipe = recipe
        self.registry = reg
        self.parallel = parallel
        self.writes = parallel is None or parallel.writes
        self.device = resolve_device(recipe.train.device) if parallel is None else parallel.device
        self.dtype = getattr(torch, recipe.train.dtype)
        self.flush_denormal = self.device.type == "cpu" and recipe.train.flush_denormal
        seed = recipe.train.seed

        d = recipe.data
        source_args = dict(d.args) if d.root is None else {**d.args, "root": d.root}
        self.data = instantiate(
            reg,
            "data_sources",
            d.source,
            source_args,
            "data",
            device=self.device,
            dtype=self.dtype,
            seed=seed,
            validation_split=d.validation_split,
        )
        self._shard: dict[str, Any] = {}
        if parallel is not None:
            require_shard(self.data.batches, parallel.world, f"data.source {d.source!r}")
            self._shard = {"shard": parallel.shard}
        n_train = self.data.num_examples("train")
        round_ = math.floor if d.drop_last else math.ceil
        self.steps_per_epoch = round_(n_train / d.batch_size)
        self.total_steps = self.steps_per_epoch * recipe.train.epochs

        # Built by validation (corebp.recipe.build): drawn after torch.manual_seed(seed) on
        # the CPU in float32, so they are the same numbers on every device and dtype; torch's
        # global generator continues from where those draws left it.
        core = loaded.take_core(reg)
        torch.set_rng_state(core.rng)
        self.model, self.loss, self.optimizer = core.model, core.loss, core.optimizer
        self.model.to(self.device, self.dtype)
        # state an optimizer made when it was built follows its parameters to the device
        self.optimizer.load_state_dict(self.optimizer.state_dict())
        self.learning_rule = attach_learning_rule(recipe, reg, self.model)
        self._check_model_fits_data()
        if parallel is not None:
            parallel.attach(recipe, self.model, self.loss)
        self.schedule = None
        if recipe.schedule is not None:
            self.schedule = instantiate(
                reg,
                "schedules",
                recipe.schedule.type,
                recipe.schedule.args,
                "schedule",
                base_lr=self.optimizer.lr,
                steps_per_epoch=self.steps_per_epoch,
                total_steps=self.total_steps,
            )
        self.metric_names = [m.type for m in recipe.metrics]
        duplicate = {n for n in self.metric_names if self.metric_names.count(n) > 1}
        if duplicate:
            raise ConfigError(
                f"metrics: {sorted(duplicate)} listed twice; expected each metric once."
            )
        self.train_metrics = self.new_metrics()
        self.loggers: list[Logger] = [
            instantiate(reg, "loggers", s.type, s.args, f"output.loggers.{i}")
            for i, s in enumerate(recipe.output.loggers)
        ]
        if not self.writes:  # built (so checked) on every rank; only rank 0 logs
            self.loggers = []

        self.generator = torch.Generator().manual_seed(seed)
        #: The shuffle generator's state at the start of the current epoch (for checkpoints).
        self.shuffle_state = self.generator.get_state()
        #: What hooks see of this run: its parts, clock and records, not this Trainer.
        self.view = RunView(
            recipe,
            self.model,
            self.loss,
            self.optimizer,
            self.learning_rule,
            self.data,
            functools.partial(build_metrics, reg, recipe, self.data.num_classes),
            functools.partial(denormals_flushed, self.flush_denormal),
        )
        self.history: list[dict[str, Any]] = []
        #: Updates already done in the current epoch when resuming from a checkpoint.
        self.resume_position = 0
        #: Called every `checkpoint_every` updates and after every epoch (None: never).
        self.on_checkpoint: Callable[[], object] | None = None
        self.checkpoint_every = recipe.output.checkpoint_every or 0
        #: Set (to the signal number) to stop after the current step; see `Interrupted`.
        self.stop_signal: int | None = None
        # The divergence guard, on the device: whether every loss since update
        # `_window_start` was finite, and how many were, up to the first that was not.
        self._all_finite = torch.ones((), dtype=torch.bool, device=self.device)
        self._finite_run = torch.zeros((), dtype=torch.int64, device=self.device)
        self._window_start = 0

        # This run's plugin manager: the plugins, plus the listeners they attach to this run.
        # Hooks are looked up once; a hook nothing implements is not called at all.
        self.events = reg.run_events(self.view)
        for i, logger in enumerate(self.loggers):
            self.events.register(logger, name=f"output.loggers.{i}")
        if parallel is not None:  # last: every tryfirst hook sees this rank's own gradients
            self.events.register(parallel, name="core/DataParallel")
        self._find_hooks()
        mode = recipe.output.progress if progress is None else progress
        bar = self.writes and wants_bar(mode)
        self.progress = ProgressBar(self.steps_per_epoch, self._live) if bar else None

    def _find_hooks(self) -> None:
        """Look the training-event hooks up once; a hook nothing implements is not called."""
        self._hooks = {
            name: getattr(self.events.hook, name)
            for name in (
                "corebp_run_start",
                "corebp_run_end",
                "corebp_epoch_start",
                "corebp_epoch_end",
                "corebp_after_backward",
                "corebp_after_update",
            )
            if getattr(self.events.hook, name).get_hookimpls()
        }

    # -- the clock and records hooks see, kept in the view ------------------------------
    @property
    def step(self) -> int:
        return self.view.step

    @step.setter
    def step(self, value: int) -> None:
        self.view.step = value

    @property
    def epoch(self) -> int:
        return self.view.epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        self.view.epoch = value

    @property
    def records(self) -> list[dict[str, Any]]:
        """Rows listeners add between the epoch rows, each with a `step` (see `TrainingRun`)."""
        return self.view.records

    @records.setter
    def records(self, value: list[dict[str, Any]]) -> None:
        self.view.records = value

    def add_listener(self, listener: object, name: str | None = None) -> None:
        """Register `listener`'s `@corebp.hookimpl` methods for this run's training events."""
        self.events.register(listener, name=name)
        self._find_hooks()

    # -- building blocks ------------------------------------------------------------------
    def _check_model_fits_data(self) -> None:
        """Push one example through the model and loss (eval mode, no RNG drawn): the layer
        widths must chain from the data's input shape to one output per class."""
        shape, classes = tuple(self.data.input_shape), self.data.num_classes
        x = torch.zeros((1, *shape), device=self.device, dtype=self.dtype)
        self.model.eval()
        try:
            out = self.model.forward(x)
            if tuple(out.shape[1:]) != (classes,):
                raise ConfigError(
                    f"model: produces outputs of shape {tuple(out.shape[1:])} per example but "
                    f"the data has {classes} classes; expected the last layer to give "
                    f"{classes} outputs (e.g. out_features: {classes})."
                )
            self.loss.forward(out, torch.full((1,), classes - 1, device=self.device))
        except ConfigError:
            raise
        except CorebpError as e:
            raise ConfigError(
                f"model: does not fit the data (one example of shape {shape}, {classes} "
                f"classes): {e}"
            ) from None
        finally:
            self.model.train()

    def new_metrics(self) -> dict[str, Metric]:
        """Fresh metric instances, one per recipe entry."""
        return build_metrics(self.registry, self.recipe, self.data.num_classes)

    def _live(self) -> dict[str, float]:
        """The training metrics that are single numbers, for the progress bar."""
        live = {k: m.compute() for k, m in self.train_metrics.items()}
        return {k: v for k, v in live.items() if isinstance(v, (int, float))}

    def _call(self, name: str, **kwargs: Any) -> None:
        hook = self._hooks.get(name)
        if hook is not None:
            hook(run=self.view, **kwargs)

    # -- the loop ---------------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> dict[str, Any]:
        """One pass over the training split; returns the training metrics."""
        with denormals_flushed(self.flush_denormal):
            return self._train_epoch(epoch)

    def _train_epoch(self, epoch: int) -> dict[str, Any]:
        self.epoch = epoch
        model, loss_fn, optimizer, schedule = self.model, self.loss, self.optimizer, self.schedule
        model.train()
        position, self.resume_position = self.resume_position, 0
        if position == 0:  # else: metrics and shuffle generator come from the checkpoint
            for m in self.train_metrics.values():
                m.reset()
            self.shuffle_state = self.generator.get_state()
        forward, backward, zero_grad = model.forward, model.backward, model.zero_grad
        loss_forward, loss_backward, update = loss_fn.forward, loss_fn.backward, optimizer.step
        summed_over_examples = loss_fn.summed_over_examples
        metric_updates = [m.update for m in self.train_metrics.values()]
        view = self.view
        after_backward = self._hooks.get("corebp_after_backward")
        after_update = self._hooks.get("corebp_after_update")
        advance = self.progress.advance if self.progress is not None else None
        d = self.recipe.data
        batches = self.data.batches(
            "train",
            d.batch_size,
            shuffle=d.shuffle,
            drop_last=d.drop_last,
            generator=self.generator,
            **self._shard,
        )
        if position:
            batches = itertools.islice(batches, position, None)
        step = self._window_start = self.step
        every = self.checkpoint_every
        all_finite, finite_run = self._all_finite, self._finite_run
        stop_any_step = self.parallel is None  # data-parallel: at agreed updates only
        for x, y in batches:
            out = forward(x)
            loss = loss_forward(out, y)
            backward(loss_backward(), False)
            if schedule is not None:
                optimizer.lr = schedule.lr_at(step)
            if after_backward is not None:
                view.step = step
                after_backward(run=view, x=x, y=y, loss=loss)
            update()
            zero_grad()
            if after_update is not None:
                view.step = step
                after_update(run=view)
            loss_sum = summed_over_examples(loss, y.shape[0])
            for metric_update in metric_updates:
                metric_update(out, y, loss_sum)
            finite_run.add_(all_finite.logical_and_(loss_sum.isfinite()))
            step += 1
            if advance is not None:
                advance()
            if step % DIVERGENCE_CHECK_EVERY == 0:
                self.step = step
                self.check_finite()
            if (stop_any_step and self.stop_signal is not None) or (every and step % every == 0):
                self.step = step
                self._pause()
        self.step = step
        self.check_finite()
        return {k: m.compute() for k, m in self.train_metrics.items()}

    def check_finite(self) -> None:
        """Raise `Diverged` naming the first update whose loss was not finite, if any was
        since the last check (one read of the device-side flag).

        Data-parallel, the ranks agree here (one small collective, at the same updates on
        every rank) on the first non-finite loss of any rank and on a stop request any rank
        received, which raises `Interrupted` on every rank: no rank waits for another."""
        first = None if bool(self._all_finite) else self._window_start + int(self._finite_run)
        if self.parallel is not None:
            first, self.stop_signal = self.parallel.agree(self.step, first, self.stop_signal)
        if first is not None:
            raise Diverged(first, "the loss is not finite")
        self._finite_run.zero_()
        self._window_start = self.step
        if self.stop_signal is not None and self.parallel is not None:
            raise Interrupted(self.stop_signal)

    def _pause(self) -> None:
        """Between two steps: stop if asked to, else write a checkpoint (of finite state)."""
        if self.stop_signal is not None and self.parallel is None:
            raise Interrupted(self.stop_signal)
        self.check_finite()
        if self.on_checkpoint is not None:
            self.on_checkpoint()

    def evaluate(
        self, split: str, forward: Callable[[Tensor], Tensor] | None = None
    ) -> dict[str, Any]:
        """The recipe's metrics on a split (`RunView.evaluate`)."""
        return self.view.evaluate(split, forward)

    def fit(self, on_epoch_end: EpochCallback | None = None) -> dict[str, Any]:
        """Train every epoch, evaluate after each, and return the run summary.

        An exception raised by a plugin's hook becomes a `PluginError` naming the plugin, its
        distribution and the hook. A non-finite loss stops the run with `Diverged`, naming
        the first update whose loss was not finite.
        """
        try:
            return self._fit(on_epoch_end)
        except Diverged:
            if self.parallel is None:  # data-parallel, the ranks agreed on the first one
                self.check_finite()  # names an earlier update if the loss already was not finite
            raise
        except Exception as e:
            self.registry.raise_from_hook(e, self.events)

    def _fit(self, on_epoch_end: EpochCallback | None) -> dict[str, Any]:
        epochs = self.recipe.train.epochs
        eval_splits = [s for s in ("val", "test") if self.writes and s in self.data.splits()]
        self._call("corebp_run_start")
        started = time.perf_counter()
        for epoch in range(len(self.history), epochs):
            self._call("corebp_epoch_start", epoch=epoch)
            if self.progress is not None:
                self.progress.start(epoch, epochs)
            t0 = time.perf_counter()
            train = self.train_epoch(epoch)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            seconds = time.perf_counter() - t0
            row: dict[str, Any] = {"epoch": epoch + 1}
            row |= {f"train_{k}": v for k, v in train.items()}
            for split in eval_splits:
                row |= {f"{split}_{k}": v for k, v in self.evaluate(split).items()}
            row["seconds"] = seconds
            row["lr"] = self.optimizer.lr
            self._call("corebp_epoch_end", epoch=epoch, metrics=row)
            self.history.append(row)
            if on_epoch_end is not None:
                on_epoch_end(row)
            line = epoch_line(epoch, epochs, row)
            if self.progress is not None:
                self.progress.end(line)
            elif self.writes:
                print(line, file=sys.stderr, flush=True)
            self._pause()
        summary = self.summary(time.perf_counter() - started)
        self._call("corebp_run_end", summary=summary)
        return summary

    def summary(self, seconds: float) -> dict[str, Any]:
        """The run's results: the last epoch's metrics and totals (listeners add theirs)."""
        last = self.history[-1] if self.history else {}
        summary: dict[str, Any] = {
            "recipe": self.name,
            "epochs": len(self.history),
            "steps": self.step,
            "seconds": seconds,
            "seed": self.recipe.train.seed,
            "device": str(self.device),
            "dtype": self.recipe.train.dtype,
        }
        summary |= {k: v for k, v in last.items() if k not in ("epoch", "seconds", "lr")}
        return summary
