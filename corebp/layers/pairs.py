"""Argument checks shared by the image layers: a size given as one int or an (h, w) pair."""

from __future__ import annotations

from corebp.errors import ConfigError

Pair = int | tuple[int, int]


def pair(layer: str, name: str, value: object, minimum: int = 1) -> tuple[int, int]:
    """(h, w) from an int or a pair of ints, each ≥ `minimum`, else a ConfigError naming it."""
    items = list(value) if isinstance(value, (tuple, list)) else [value, value]
    ints = [v for v in items if isinstance(v, int) and not isinstance(v, bool) and v >= minimum]
    if len(items) != 2 or len(ints) != 2:
        raise ConfigError(
            f"{layer}: {name}={value!r} must be an integer ≥ {minimum} or a pair of them "
            f"(height, width), e.g. {name}={max(minimum, 2)} or {name}=[{max(minimum, 2)}, "
            f"{max(minimum, 2)}]."
        )
    return ints[0], ints[1]


def positive(layer: str, name: str, value: object) -> int:
    """`value` if it is a positive int, else a ConfigError naming it."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{layer}: {name}={value!r} must be a positive integer.")
    return value
