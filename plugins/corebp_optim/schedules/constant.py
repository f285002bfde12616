"""Constant: the learning rate never changes."""

from __future__ import annotations

from corebp.contracts.schedule import Schedule


class Constant(Schedule):
    """η(t) = η₀ for every step t."""

    def lr_at(self, step: int) -> float:
        return self.base_lr
