"""corebp: neural-network layers whose backward pass is written out by hand."""

from corebp.data_source import DataSource
from corebp.errors import ConfigError, CorebpError, DataError, PluginError, ShapeError, StateError
from corebp.hookspecs import hookimpl
from corebp.layer import Layer
from corebp.layers import Linear, Sigmoid
from corebp.loss import Loss
from corebp.losses import MSELoss
from corebp.metric import Metric
from corebp.optimizer import Optimizer
from corebp.schedule import Schedule
from corebp.sequential import Sequential

__all__ = [
    "ConfigError",
    "CorebpError",
    "DataError",
    "DataSource",
    "Layer",
    "Linear",
    "Loss",
    "MSELoss",
    "Metric",
    "Optimizer",
    "PluginError",
    "Schedule",
    "Sequential",
    "ShapeError",
    "Sigmoid",
    "StateError",
    "hookimpl",
]
