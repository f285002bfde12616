"""The built-in layers, one per file; `REGISTRY` maps recipe names to classes."""

from corebp.layer import Layer
from corebp.layers.dropout import Dropout
from corebp.layers.flatten import Flatten
from corebp.layers.leaky_relu import LeakyReLU
from corebp.layers.linear import Linear
from corebp.layers.relu import ReLU
from corebp.layers.sigmoid import Sigmoid
from corebp.layers.softmax import Softmax
from corebp.layers.tanh import Tanh
from corebp.sequential import Sequential

REGISTRY: dict[str, type[Layer]] = {
    "linear": Linear,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "softmax": Softmax,
    "flatten": Flatten,
    "dropout": Dropout,
}

__all__ = [
    "REGISTRY",
    "Dropout",
    "Flatten",
    "LeakyReLU",
    "Linear",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
]
