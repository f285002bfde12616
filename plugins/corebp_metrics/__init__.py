"""corebp first-party plugin: metrics accumulated on the device over batches of any size.

Registered through the `corebp` entry-point group like any third-party plugin; the core
imports nothing from here.
"""

from __future__ import annotations

from corebp.contracts.metric import Metric
from corebp.hookspecs import hookimpl
from corebp_metrics.accuracy import Accuracy, TopKAccuracy
from corebp_metrics.confusion import ConfusionMatrix, PerClassAccuracy
from corebp_metrics.loss import Loss


@hookimpl
def corebp_register_metrics() -> dict[str, type[Metric]]:
    return {
        "loss": Loss,
        "accuracy": Accuracy,
        "top_k_accuracy": TopKAccuracy,
        "confusion_matrix": ConfusionMatrix,
        "per_class_accuracy": PerClassAccuracy,
    }


__all__ = ["Accuracy", "ConfusionMatrix", "Loss", "PerClassAccuracy", "TopKAccuracy"]
