"""The built-in layers, one per file; `REGISTRY` maps recipe names to classes."""

from corebp.contracts.layer import Layer
from corebp.layers.avg_pool2d import AvgPool2d
from corebp.layers.batch_norm import BatchNorm1d, BatchNorm2d
from corebp.layers.conv2d import Conv2d
from corebp.layers.dropout import Dropout
from corebp.layers.flatten import Flatten
from corebp.layers.leaky_relu import LeakyReLU
from corebp.layers.linear import Linear
from corebp.layers.max_pool2d import MaxPool2d
from corebp.layers.relu import ReLU
from corebp.layers.reshape import Reshape
from corebp.layers.sequential import Sequential
from corebp.layers.sigmoid import Sigmoid
from corebp.layers.softmax import Softmax
from corebp.layers.tanh import Tanh

REGISTRY: dict[str, type[Layer]] = {
    "linear": Linear,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "softmax": Softmax,
    "flatten": Flatten,
    "dropout": Dropout,
    "conv2d": Conv2d,
    "max_pool2d": MaxPool2d,
    "avg_pool2d": AvgPool2d,
    "batch_norm1d": BatchNorm1d,
    "batch_norm2d": BatchNorm2d,
    "reshape": Reshape,
}

__all__ = [
    "REGISTRY",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "LeakyReLU",
    "Linear",
    "MaxPool2d",
    "ReLU",
    "Reshape",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
]
