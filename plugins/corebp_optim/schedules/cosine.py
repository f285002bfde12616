"""Cosine annealing: from the base rate down to `min_lr` over the whole run, step by step."""

from __future__ import annotations

import math

from corebp.contracts.schedule import Schedule
from corebp.errors import ConfigError


class Cosine(Schedule):
    """η(t) = η_min + (η₀ − η_min) · (1 + cos(π · min(t, T) / T)) / 2, with T = total_steps.

    `torch.optim.lr_scheduler.CosineAnnealingLR(T_max=T, eta_min=η_min)` stepped once per
    update gives the same rates for t ≤ T; past T this schedule stays at η_min.

    Args:
        min_lr: η_min, the learning rate reached at the last step (same units as
            optimizer.lr); 0: anneal to zero.
    """

    def __init__(
        self, base_lr: float, steps_per_epoch: int, total_steps: int, min_lr: float = 0.0
    ) -> None:
        super().__init__(base_lr, steps_per_epoch, total_steps)
        if self.total_steps < 1:
            raise ConfigError(f"cosine: total_steps={total_steps} must be >= 1.")
        self.min_lr = float(min_lr)

    def lr_at(self, step: int) -> float:
        progress = min(step, self.total_steps) / self.total_steps
        return self.min_lr + (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2
