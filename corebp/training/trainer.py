"""The training loop: forward → loss → backward → update, and hooks for everything else.

`Trainer(loaded_recipe)` gets the run's parts from `corebp.training.assemble` (which raises
a `CorebpError` for anything wrong *before* training starts). `train_epoch(epoch)` is
exactly the recipe's loop, with no host-device sync per step: metrics accumulate on the
device and are read once per epoch. `fit()` runs all epochs with evaluation and returns the
run summary. The schedule, the divergence guard, stopping, checkpoints, the progress display
and the checks listen to the run's hooks (`corebp.training.listeners`) through a `RunView`.
`state_dict()` / `load_state_dict()` are the run's whole resumable state (`checkpoint.py`).
"""

from __future__ import annotations

import itertools
import time
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from corebp.errors import Diverged
from corebp.plugins import Registry, registry
from corebp.recipe.load import LoadedRecipe
from corebp.training.assemble import assemble, denormals_flushed
from corebp.training.listeners import Interrupted, stateful

if TYPE_CHECKING:
    from collections.abc import Callable

    from corebp.training.distributed import DataParallel

#: The training-event hooks the loop calls (looked up once; one nothing implements is skipped).
HOOKS = [f"corebp_{n}" for n in ("run_start", "run_end", "epoch_start", "epoch_end")]
HOOKS += [f"corebp_{n}" for n in ("after_backward", "after_update", "step_end")]


class Trainer:
    """One recipe run: its parts (`parts`, the most used also as attributes) and the loop.
    With `parallel` (torchrun, `training.distributed`) this process trains on its shard of
    every batch, its gradients are all-reduced, and only rank 0 evaluates and prints."""

    def __init__(
        self,
        loaded: LoadedRecipe,
        reg: Registry | None = None,
        progress: str | None = None,
        parallel: DataParallel | None = None,
    ) -> None:
        self.registry = registry() if reg is None else reg
        self.parallel = parallel
        self.writes = parallel is None or parallel.writes
        self.parts = p = assemble(loaded, self.registry, progress, parallel)
        self.name, self.recipe, self.device, self.data = p.name, p.recipe, p.device, p.data
        self.model, self.loss, self.optimizer = p.model, p.loss, p.optimizer
        self.learning_rule, self.schedule, self.loggers = p.learning_rule, p.schedule, p.loggers
        self.steps_per_epoch, self.total_steps = p.steps_per_epoch, p.total_steps
        self.train_metrics, self.view, self.events = p.metrics, p.view, p.events
        self.guard = p.guard
        self.history: list[dict[str, Any]] = []
        #: Updates already done in the current epoch when resuming from a checkpoint.
        self.resume_position = 0
        self._find_hooks()

    def _find_hooks(self) -> None:
        hook = self.events.hook
        self._hooks = {n: getattr(hook, n) for n in HOOKS if getattr(hook, n).get_hookimpls()}

    def add_listener(self, listener: object, name: str | None = None) -> None:
        """Register `listener`'s `@corebp.hookimpl` methods for this run's training events."""
        self.events.register(listener, name=name)
        self._find_hooks()

    def remove_listener(self, name: str) -> object:
        """Unregister the listener registered as `name` (such as "core/progress")."""
        listener = self.events.unregister(name=name)
        self._find_hooks()
        return listener

    @property
    def step(self) -> int:
        """Updates done so far over the whole run (what `RunView.step` reads)."""
        return self.view.step

    def _call(self, name: str, **kwargs: Any) -> None:
        hook = self._hooks.get(name)
        if hook is not None:
            hook(run=self.view, **kwargs)

    # -- the loop ---------------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> dict[str, Any]:
        """One pass over the training split; returns the training metrics."""
        with denormals_flushed(self.parts.flush_denormal):
            return self._train_epoch(epoch)

    def _train_epoch(self, epoch: int) -> dict[str, Any]:
        view = self.view
        view.epoch = epoch
        model, loss_fn = self.model, self.loss
        model.train()
        position, self.resume_position = self.resume_position, 0
        if position == 0:  # else: metrics and shuffle generator come from the checkpoint
            for m in self.train_metrics.values():
                m.reset()
            self.parts.streams.start_epoch()
        forward, backward, zero_grad = model.forward, model.backward, model.zero_grad
        loss_forward, loss_backward = loss_fn.forward, loss_fn.backward
        update, summed_over_examples = self.optimizer.step, loss_fn.summed_over_examples
        metric_updates = [m.update for m in self.train_metrics.values()]
        after_backward = self._hooks.get("corebp_after_backward")
        after_update = self._hooks.get("corebp_after_update")
        step_end = self._hooks.get("corebp_step_end")
        rule = self.learning_rule
        rule_sees = rule.before_backward if rule.uses("before_backward") else None
        rule_after = rule.after_update if rule.uses("after_update") else None
        d = self.recipe.data
        batches = self.data.batches(
            "train",
            d.batch_size,
            shuffle=d.shuffle,
            drop_last=d.drop_last,
            generator=self.parts.streams.shuffle,
            **self.parts.shard,
        )
        step = view.step
        own_step = rule.train_step if rule.uses("train_step") else None
        for x, y in itertools.islice(batches, position, None):
            if own_step is not None:
                out, loss = own_step(model, loss_fn, x, y)
            else:
                out = forward(x)
                loss = loss_forward(out, y)
                if rule_sees is not None:
                    rule_sees(x, y)
                backward(loss_backward(), False)
            if after_backward is not None:
                view.step = step
                after_backward(run=view, x=x, y=y, loss=loss)
            update()
            zero_grad()
            if rule_after is not None:
                rule_after()
            if after_update is not None:
                view.step = step
                after_update(run=view)
            loss_sum = summed_over_examples(loss, y.shape[0])
            for metric_update in metric_updates:
                metric_update(out, y, loss_sum)
            step += 1
            view.step = step
            if step_end is not None:
                step_end(run=view, loss=loss)
        return {k: m.compute() for k, m in self.train_metrics.items()}

    def fit(self, on_epoch_end: Callable[[dict[str, Any]], object] | None = None) -> dict[str, Any]:
        """Train every epoch, evaluate after each, and return the run summary;
        `on_epoch_end(row)` after each epoch's `corebp_epoch_end` hooks.

        An exception raised by a plugin's hook becomes a `PluginError` naming the plugin, its
        distribution and the hook. A non-finite loss stops the run with `Diverged`, naming
        the first update whose loss was not finite; a stop request with `Interrupted`.
        """
        try:
            return self._fit(on_epoch_end)
        except Interrupted:
            raise
        except Diverged as e:
            raise self.guard.first_of(e) from None
        except Exception as e:
            self.registry.raise_from_hook(e, self.events)

    def _fit(self, on_epoch_end: Callable[[dict[str, Any]], object] | None) -> dict[str, Any]:
        epochs = self.recipe.train.epochs
        eval_splits = [s for s in ("val", "test") if self.writes and s in self.data.splits()]
        self._call("corebp_run_start")
        started = time.perf_counter()
        for epoch in range(len(self.history), epochs):
            self._call("corebp_epoch_start", epoch=epoch)
            t0 = time.perf_counter()
            train = self.train_epoch(epoch)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            seconds = time.perf_counter() - t0
            row: dict[str, Any] = {"epoch": epoch + 1}
            row |= {f"train_{k}": v for k, v in train.items()}
            for split in eval_splits:
                row |= {f"{split}_{k}": v for k, v in self.view.evaluate(split).items()}
            row["seconds"] = seconds
            row["lr"] = self.optimizer.lr
            self.history.append(row)  # what a checkpoint after this epoch holds
            try:
                self._call("corebp_epoch_end", epoch=epoch, metrics=row)
            except Exception as e:  # an epoch is done once every listener has seen it,
                if not isinstance(e, Interrupted):  # or when the run stops after it
                    self.history.pop()
                raise
            if on_epoch_end is not None:
                on_epoch_end(row)
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

    # -- the resumable state ------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The run's whole state, as tensors and plain values (layout: `training.checkpoint`).
        Data-parallel, a collective: every rank calls it."""
        position = self.step - len(self.history) * self.steps_per_epoch
        listeners = stateful(self.events)
        return {
            "epoch": len(self.history),
            "step": self.step,
            "position": position,
            "model": {k: _cpu(p) for k, p in self.model.params.items()},
            "buffers": {k: _cpu(t) for k, t in self.model.buffers.items()},
            "optimizer": self.optimizer.state_dict(),
            "rng": self.parts.streams.state_dict(mid_epoch=position != 0),
            "metrics": {k: m.state_dict() for k, m in self.train_metrics.items()},
            "history": [dict(row) for row in self.history],
            "records": [dict(row) for row in self.view.records],
            "learning_rule": {k: _cpu(t) for k, t in self.learning_rule.state_dict().items()},
            "listeners": {k: p.state_dict() for k, p in listeners.items()},
            "recipe": self.recipe.model_dump(mode="json"),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a `state_dict()` of a run of the same recipe."""
        with torch.no_grad():
            for k, p in self.model.params.items():
                p.copy_(state["model"][k])
            for k, t in self.model.buffers.items():
                t.copy_(state["buffers"][k])
        self.optimizer.load_state_dict(state["optimizer"])
        self.parts.streams.load_state_dict(state["rng"])
        for k, m in self.train_metrics.items():
            saved = state["metrics"][k].items()
            m.load_state_dict({n: v.to(self.device) if torch.is_tensor(v) else v for n, v in saved})
        self.learning_rule.load_state_dict(state["learning_rule"])
        for k, p in stateful(self.events).items():
            if k in state["listeners"]:
                p.load_state_dict(state["listeners"][k])
        self.history = [dict(row) for row in state["history"]]
        self.view.records = [dict(row) for row in state.get("records", [])]
        self.view.step, self.view.epoch = int(state["step"]), len(self.history)
        self.resume_position = int(state["position"])


def _cpu(t: Tensor) -> Tensor:  # a copy: the checkpoint is written while training goes on
    return t.detach().to("cpu", copy=True)
