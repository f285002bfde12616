"""`TrainingRun`: what a training-event hook sees of a running training."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from torch import Tensor

    from corebp.contracts.data_source import DataSource
    from corebp.contracts.learning_rule import LearningRule
    from corebp.contracts.loss import Loss
    from corebp.contracts.optimizer import Optimizer
    from corebp.layers.sequential import Sequential
    from corebp.recipe.schema import Recipe


class TrainingRun(Protocol):
    """What a training-event hook sees of a run. Read-only attributes; what may change is
    the tensors inside them (`model.grads`, `model.params`) and `optimizer.lr`."""

    @property
    def recipe(self) -> Recipe:
        """The validated recipe (read it; do not change it)."""

    @property
    def model(self) -> Sequential:
        """The model; `model.params` / `model.grads` are its tensors by name."""

    @property
    def loss(self) -> Loss:
        """The loss."""

    @property
    def optimizer(self) -> Optimizer:
        """The update rule; `optimizer.lr` is the learning rate of the coming update."""

    @property
    def learning_rule(self) -> LearningRule:
        """How backward assigns credit (`exact_gradient` False for a non-gradient rule)."""

    @property
    def data(self) -> DataSource:
        """The data source (splits, batches)."""

    @property
    def step(self) -> int:
        """The current update's number, counting from 0 over the whole run."""

    @property
    def epoch(self) -> int:
        """The current epoch, counting from 0."""

    @property
    def records(self) -> list[dict[str, Any]]:
        """Rows metrics.jsonl holds between the epoch rows, each with a `step` key and no
        `epoch` (a listener may append one; they are checkpointed with the run)."""

    def evaluate(
        self, split: str, forward: Callable[[Tensor], Tensor] | None = None
    ) -> dict[str, Any]:
        """The recipe's metrics on a split, with `forward` (default: the model's) as model."""
