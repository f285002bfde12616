"""corebp first-party plugin: metrics accumulated on the device over batches of any size.

Registered through the `corebp` entry-point group like any third-party plugin; the core
imports nothing from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from corebp.hookspecs import hookimpl
from corebp.util.lazy import lazy_attributes

if TYPE_CHECKING:
    from corebp.contracts.metric import Metric
    from corebp_metrics.accuracy import Accuracy, TopKAccuracy
    from corebp_metrics.confusion import ConfusionMatrix, PerClassAccuracy
    from corebp_metrics.loss import Loss

# The metrics import torch: only on first use, so that `corebp --help` stays fast.
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "corebp_metrics.accuracy": ["Accuracy", "TopKAccuracy"],
        "corebp_metrics.confusion": ["ConfusionMatrix", "PerClassAccuracy"],
        "corebp_metrics.loss": ["Loss"],
    },
)


@hookimpl
def corebp_register_metrics() -> dict[str, type[Metric]]:
    from corebp_metrics.accuracy import Accuracy, TopKAccuracy
    from corebp_metrics.confusion import ConfusionMatrix, PerClassAccuracy
    from corebp_metrics.loss import Loss

    return {
        "loss": Loss,
        "accuracy": Accuracy,
        "top_k_accuracy": TopKAccuracy,
        "confusion_matrix": ConfusionMatrix,
        "per_class_accuracy": PerClassAccuracy,
    }


__all__ = ["Accuracy", "ConfusionMatrix", "Loss", "PerClassAccuracy", "TopKAccuracy"]
