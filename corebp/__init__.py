"""corebp: neural-network layers whose backward pass is written out by hand."""

from importlib.metadata import version as _version

from corebp.contracts.data_source import DataSource
from corebp.contracts.layer import Layer, Wrapper
from corebp.contracts.learning_rule import LearningRule
from corebp.contracts.logger import Logger
from corebp.contracts.loss import Loss
from corebp.contracts.metric import Metric
from corebp.contracts.optimizer import Optimizer
from corebp.contracts.schedule import Schedule
from corebp.errors import ConfigError, CorebpError, DataError, PluginError, ShapeError, StateError
from corebp.hookspecs import hookimpl
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
