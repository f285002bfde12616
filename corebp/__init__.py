"""corebp: neural-network layers whose backward pass is written out by hand.

The layers, losses and contracts below are imported on first use (`corebp.Linear`,
`from corebp import Linear`): importing corebp alone, as `corebp --help` and every plugin do,
does not import torch.
"""

from importlib.metadata import version as _version
from typing import TYPE_CHECKING

from corebp.errors import ConfigError, CorebpError, DataError, PluginError, ShapeError, StateError
from corebp.markers import hookimpl
from corebp.util.lazy import lazy_attributes

if TYPE_CHECKING:
    from corebp.contracts.data_source import DataSource
    from corebp.contracts.layer import Layer, Wrapper
    from corebp.contracts.learning_rule import LearningRule
    from corebp.contracts.logger import Logger
    from corebp.contracts.loss import Loss
    from corebp.contracts.metric import Metric
    from corebp.contracts.optimizer import Optimizer
    from corebp.contracts.schedule import Schedule
    from corebp.layers import (
        AvgPool2d,
        BatchNorm1d,
        BatchNorm2d,
        Conv2d,
        Dropout,
        Flatten,
        LeakyReLU,
        Linear,
        MaxPool2d,
        ReLU,
        Reshape,
        Sigmoid,
        Softmax,
        Tanh,
    )
    from corebp.layers.sequential import Sequential
    from corebp.losses import BCELoss, CrossEntropyLoss, MSELoss

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "corebp.contracts.data_source": ["DataSource"],
        "corebp.contracts.layer": ["Layer", "Wrapper"],
        "corebp.contracts.learning_rule": ["LearningRule"],
        "corebp.contracts.logger": ["Logger"],
        "corebp.contracts.loss": ["Loss"],
        "corebp.contracts.metric": ["Metric"],
        "corebp.contracts.optimizer": ["Optimizer"],
        "corebp.contracts.schedule": ["Schedule"],
        "corebp.layers": [
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
            "Sigmoid",
            "Softmax",
            "Tanh",
        ],
        "corebp.layers.sequential": ["Sequential"],
        "corebp.losses": ["BCELoss", "CrossEntropyLoss", "MSELoss"],
    },
)

__version__ = _version("corebp")

__all__ = [
    "AvgPool2d",
    "BCELoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "ConfigError",
    "Conv2d",
    "CorebpError",
    "CrossEntropyLoss",
    "DataError",
    "DataSource",
    "Dropout",
    "Flatten",
    "Layer",
    "LeakyReLU",
    "LearningRule",
    "Linear",
    "Logger",
    "Loss",
    "MSELoss",
    "MaxPool2d",
    "Metric",
    "Optimizer",
    "PluginError",
    "ReLU",
    "Reshape",
    "Schedule",
    "Sequential",
    "ShapeError",
    "Sigmoid",
    "Softmax",
    "StateError",
    "Tanh",
    "Wrapper",
    "hookimpl",
]
