"""The learning-rate schedule contract: the learning rate as a function of the step."""

from __future__ import annotations


class Schedule:
    """Base class of learning-rate schedules.

    Built as `Sched(base_lr=..., steps_per_epoch=..., total_steps=..., **arguments)`; the
    trainer sets `optimizer.lr = schedule.lr_at(step)` before every update, `step` counting
    optimizer updates from 0.
    """

    def __init__(self, base_lr: float, steps_per_epoch: int, total_steps: int) -> None:
        self.base_lr = float(base_lr)
        self.steps_per_epoch = int(steps_per_epoch)
        self.total_steps = int(total_steps)

    def lr_at(self, step: int) -> float:
        raise NotImplementedError(f"{type(self).__name__} must implement lr_at(step)")
