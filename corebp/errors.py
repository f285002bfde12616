"""Errors corebp raises for bad input: each names the input, what was expected and the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class CorebpError(Exception):
    """A user-facing error: the CLI prints its message and exits 2, without a traceback."""


class ShapeError(CorebpError, ValueError):
    """A tensor had a shape a layer or loss cannot take."""


class StateError(CorebpError, RuntimeError):
    """A method was called in the wrong order (e.g. backward before forward)."""


class ConfigError(CorebpError, ValueError):
    """A recipe, argument or setting had a bad value."""


class PluginError(CorebpError, RuntimeError):
    """A plugin failed to load or clashed with another plugin."""


class DataError(CorebpError, RuntimeError):
    """A data file is missing, corrupt or cannot be fetched."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return " Did you mean 'x'?" for the nearest of `choices`, or "" when none is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""
