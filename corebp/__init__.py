"""corebp: neural-network layers whose backward pass is written out by hand."""

from importlib.metadata import version as _version

from corebp.data_source import DataSource
from corebp.errors import ConfigError, CorebpError, DataError, PluginError, ShapeError, StateError
from corebp.hookspecs import hookimpl
from corebp.layer import Layer
from corebp.layers import Dropout, Flatten, LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh
from corebp.logger import Logger
from corebp.loss import Loss
from corebp.losses import BCELoss, CrossEntropyLoss, MSELoss
from corebp.metric import Metric
from corebp.optimizer import Optimizer
from corebp.schedule import Schedule
from corebp.sequential import Sequential

__version__ = _version("corebp")

__all__ = [
    "BCELoss",
    "ConfigError",
    "CorebpError",
    "CrossEntropyLoss",
    "DataError",
    "DataSource",
    "Dropout",
    "Flatten",
    "Layer",
    "LeakyReLU",
    "Linear",
    "Logger",
    "Loss",
    "MSELoss",
    "Metric",
    "Optimizer",
    "PluginError",
    "ReLU",
    "Schedule",
    "Sequential",
    "ShapeError",
    "Sigmoid",
    "Softmax",
    "StateError",
    "Tanh",
    "hookimpl",
]
