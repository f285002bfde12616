"""The core's own layers and losses, registered through the same hooks a plugin uses."""

from __future__ import annotations

from corebp import layers, losses
from corebp.hookspecs import hookimpl


@hookimpl
def corebp_register_layers():
    return dict(layers.REGISTRY)


@hookimpl
def corebp_register_losses():
    return dict(losses.REGISTRY)
