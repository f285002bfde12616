"""The built-in losses, one per file; `REGISTRY` maps recipe names to classes."""

from corebp.loss import Loss
from corebp.losses.mse import MSELoss

REGISTRY: dict[str, type[Loss]] = {
    "mse": MSELoss,
}

__all__ = ["REGISTRY", "MSELoss"]
