"""The built-in losses, one per file; `REGISTRY` maps recipe names to classes."""

from corebp.contracts.loss import Loss
from corebp.losses.bce import BCELoss
from corebp.losses.cross_entropy import CrossEntropyLoss
from corebp.losses.mse import MSELoss

REGISTRY: dict[str, type[Loss]] = {
    "mse": MSELoss,
    "cross_entropy": CrossEntropyLoss,
    "bce": BCELoss,
}

__all__ = ["REGISTRY", "BCELoss", "CrossEntropyLoss", "MSELoss"]
