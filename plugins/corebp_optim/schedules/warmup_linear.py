"""Linear warm-up: ramp the learning rate up over the first steps, then hold or anneal it."""

from __future__ import annotations

from typing import Literal

from corebp.contracts.schedule import Schedule
from corebp.errors import ConfigError
from corebp_optim.schedules.cosine import Cosine


class WarmupLinear(Schedule):
    """η(t) = η₀ · (t + 1) / W for t < W warm-up steps, then

    - `then="constant"`: η(t) = η₀;
    - `then="cosine"`:   the `cosine` schedule over the remaining T − W steps, from η₀ to
      `min_lr` (T = total_steps).

    W is `warmup_steps`, or `warmup_epochs · steps_per_epoch` rounded (at least 1); give one
    of the two (default: one epoch). The first update already uses η₀ / W, never 0.

    Args:
        warmup_steps: W, the warm-up length in updates, ≥ 1; null: from warmup_epochs.
        warmup_epochs: the warm-up length in epochs (fractions allowed); null with
            warmup_steps null: 1 epoch.
        then: what follows the warm-up: constant holds η₀; cosine anneals to min_lr by the
            last step.
        min_lr: the learning rate the cosine continuation ends at; unused by constant.
    """

    def __init__(
        self,
        base_lr: float,
        steps_per_epoch: int,
        total_steps: int,
        warmup_steps: int | None = None,
        warmup_epochs: float | None = None,
        then: Literal["constant", "cosine"] = "constant",
        min_lr: float = 0.0,
    ) -> None:
        super().__init__(base_lr, steps_per_epoch, total_steps)
        if warmup_steps is not None and warmup_epochs is not None:
            raise ConfigError(
                f"warmup_linear: got warmup_steps={warmup_steps} and warmup_epochs="
                f"{warmup_epochs}; give only one of them."
            )
        if warmup_steps is None:
            epochs = 1.0 if warmup_epochs is None else float(warmup_epochs)
            warmup_steps = max(1, round(epochs * self.steps_per_epoch))
        if warmup_steps < 1:
            raise ConfigError(f"warmup_linear: warmup_steps={warmup_steps} must be >= 1.")
        if then not in ("constant", "cosine"):
            raise ConfigError(
                f"warmup_linear: then={then!r} is not a known continuation; "
                "expected 'constant' or 'cosine'."
            )
        self.warmup_steps = int(warmup_steps)
        self.then = then
        self.min_lr = float(min_lr)
        self._cosine = (
            Cosine(base_lr, steps_per_epoch, max(1, total_steps - self.warmup_steps), min_lr)
            if then == "cosine"
            else None
        )

    def lr_at(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.base_lr * (step + 1) / self.warmup_steps
        if self._cosine is None:
            return self.base_lr
        return self._cosine.lr_at(step - self.warmup_steps)
