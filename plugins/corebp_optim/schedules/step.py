"""Step decay: multiply the learning rate by `gamma` every `step_size` epochs."""

from __future__ import annotations

from corebp.contracts.schedule import Schedule
from corebp.errors import ConfigError


class Step(Schedule):
    """η(t) = η₀ · γ^⌊e / s⌋, with epoch e = ⌊t / steps_per_epoch⌋ and s = `step_size` epochs.

    The same rates as `torch.optim.lr_scheduler.StepLR(step_size=s, gamma=γ)` stepped once per
    epoch.

    Args:
        step_size: s, the epochs between decays, ≥ 1.
        gamma: γ, the factor applied every step_size epochs.
    """

    def __init__(
        self,
        base_lr: float,
        steps_per_epoch: int,
        total_steps: int,
        step_size: int = 1,
        gamma: float = 0.1,
    ) -> None:
        super().__init__(base_lr, steps_per_epoch, total_steps)
        if step_size < 1:
            raise ConfigError(f"step: step_size={step_size} must be a whole number of epochs >= 1.")
        self.step_size = int(step_size)
        self.gamma = float(gamma)

    def lr_at(self, step: int) -> float:
        epoch = step // self.steps_per_epoch
        return self.base_lr * self.gamma ** (epoch // self.step_size)
