"""The metric contract: accumulate on the device per batch, synchronise once in `compute`."""

from __future__ import annotations

from typing import Any

from torch import Tensor


class Metric:
    """Base class of metrics.

    `update(output, target, loss)` gets a batch's model output (N, C), integer targets (N,)
    and the batch's loss summed over its examples (0-dim tensor; see
    `Loss.summed_over_examples`). It must not call `.item()` or otherwise wait for the
    device: `compute()` does that once, at the end of an epoch.
    Batches of unequal size must be weighted by their size.
    """

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.reset()

    def reset(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement reset()")

    def update(self, output: Tensor, target: Tensor, loss: Tensor) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement update()")

    def state_dict(self) -> dict[str, Any]:
        """What was accumulated since `reset()`, for a checkpoint taken mid-epoch: by default
        every attribute (tensors copied). Override when the state holds other objects."""
        return {k: v.clone() if isinstance(v, Tensor) else v for k, v in vars(self).items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a `state_dict()`."""
        for k, v in state.items():
            setattr(self, k, v.clone() if isinstance(v, Tensor) else v)

    def compute(self) -> Any:
        """A float, or a JSON-serialisable dict/list of numbers."""
        raise NotImplementedError(f"{type(self).__name__} must implement compute()")
