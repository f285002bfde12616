"""Exponential decay: multiply the learning rate by `gamma` after every epoch."""

from __future__ import annotations

from corebp.contracts.schedule import Schedule


class Exponential(Schedule):
    """η(t) = η₀ · γ^e, with epoch e = ⌊t / steps_per_epoch⌋.

    The same rates as `torch.optim.lr_scheduler.ExponentialLR(gamma=γ)` stepped once per epoch.

    Args:
        gamma: γ, the factor applied after each epoch; below 1 decays, 1 keeps η₀.
    """

    def __init__(
        self, base_lr: float, steps_per_epoch: int, total_steps: int, gamma: float = 0.9
    ) -> None:
        super().__init__(base_lr, steps_per_epoch, total_steps)
        self.gamma = float(gamma)

    def lr_at(self, step: int) -> float:
        return self.base_lr * self.gamma ** (step // self.steps_per_epoch)
