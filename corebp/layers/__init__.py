"""The built-in layers, one per file; `REGISTRY` maps recipe names to classes."""

from corebp.layer import Layer
from corebp.layers.linear import Linear
from corebp.layers.sigmoid import Sigmoid
from corebp.sequential import Sequential

REGISTRY: dict[str, type[Layer]] = {
    "linear": Linear,
    "sigmoid": Sigmoid,
}

__all__ = ["REGISTRY", "Linear", "Sequential", "Sigmoid"]
