"""`RunView`: what a training-event hook receives as `run`, the documented `TrainingRun`.

A view of the run's parts (recipe, model, loss, optimizer, learning rule, data), its clock
(`step`, `epoch`) and the records listeners add, with `evaluate`. It holds no reference to
the Trainer: a plugin cannot reach the loop's internals (its hook cache, its guard, its
checkpointing) through it. The Trainer moves the clock; the view only reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from torch import Tensor

if TYPE_CHECKING:
    from corebp.contracts.data_source import DataSource
    from corebp.contracts.learning_rule import LearningRule
    from corebp.contracts.loss import Loss
    from corebp.contracts.metric import Metric
    from corebp.contracts.optimizer import Optimizer
    from corebp.layers.sequential import Sequential
    from corebp.recipe.schema import Recipe


class RunView:
    """One run as its training-event hooks see it (see `corebp.contracts.run.TrainingRun`)."""

    __slots__ = (
        "_data",
        "_learning_rule",
        "_loss",
        "_model",
        "_new_metrics",
        "_optimizer",
        "_recipe",
        "_wrap",
        "epoch",
        "records",
        "step",
    )

    def __init__(
        self,
        recipe: Recipe,
        model: Sequential,
        loss: Loss,
        optimizer: Optimizer,
        learning_rule: LearningRule,
        data: DataSource,
        new_metrics: Callable[[], dict[str, Metric]],
        wrap: Callable[[], Any],
    ) -> None:
        self._recipe, self._model, self._loss = recipe, model, loss
        self._optimizer, self._learning_rule, self._data = optimizer, learning_rule, data
        self._new_metrics = new_metrics
        #: A context manager factory the evaluation runs in (denormal flushing).
        self._wrap = wrap
        #: The current update's number over the whole run, and the current epoch (from 0).
        self.step = 0
        self.epoch = 0
        #: Rows metrics.jsonl holds between the epoch rows, each with a `step` key.
        self.records: list[dict[str, Any]] = []

    @property
    def recipe(self) -> Recipe:
        return self._recipe

    @property
    def model(self) -> Sequential:
        return self._model

    @property
    def loss(self) -> Loss:
        return self._loss

    @property
    def optimizer(self) -> Optimizer:
        return self._optimizer

    @property
    def learning_rule(self) -> LearningRule:
        return self._learning_rule

    @property
    def data(self) -> DataSource:
        return self._data

    def evaluate(
        self, split: str, forward: Callable[[Tensor], Tensor] | None = None
    ) -> dict[str, Any]:
        """The recipe's metrics on a split, in eval mode, in large batches.

        `forward` stands in for the model (e.g. a torch twin's); default: the learning rule's
        inference (`LearningRule.infer`), which is the model's forward unless the rule has
        its own.
        """
        model, loss_fn, rule = self._model, self._loss, self._learning_rule
        model.eval()
        if forward is None:
            forward = (lambda x: rule.infer(model, x)) if rule.uses("infer") else model.forward
        metrics = self._new_metrics()
        with self._wrap():
            for x, y in self._data.batches(split, self._recipe.data.eval_batch_size):
                out = forward(x)
                loss = loss_fn.summed_over_examples(loss_fn.forward(out, y), y.shape[0])
                for m in metrics.values():
                    m.update(out, y, loss)
        model.train()
        return {k: m.compute() for k, m in metrics.items()}
