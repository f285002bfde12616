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


class Diverged(CorebpError, RuntimeError):
    """Training produced a non-finite loss or gradient; the CLI exits 3, not 2."""

    def __init__(self, step: int, what: str) -> None:
        super().__init__(
            f"diverged: {what} at step {step} (counting updates from 0); lower optimizer.lr "
            "(or check the data), the last checkpoint holds the state before it"
        )
        self.step = step


class Interrupted(Exception):
    """A stop was requested (SIGINT/SIGTERM); raised between two steps, with the state whole.
    The CLI exits 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


def clip(text: str, most: int = 200) -> str:
    """`text` cut to `most` characters, so that a huge value cannot flood an error message."""
    return text if len(text) <= most else f"{text[:most]}… ({len(text)} characters)"


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return " Did you mean 'x'?" for the nearest of `choices`, or "" when none is close
    (or `name` is far longer than any name is)."""
    if len(name) > 200:
        return ""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""
