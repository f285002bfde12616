"""Weight initialisers by name, for a (fan_in, fan_out) matrix or an n-d convolution kernel.

A 2-d shape is Linear's (in, out). An n-d shape is torch's convolution layout
(C_out, C_in/groups, k1, ..., kd), with torch's fans: fan_in = C_in/groups · k1···kd and
fan_out = C_out · k1···kd (`torch.nn.init._calculate_fan_in_and_fan_out`).

`normal` with std 1 draws exactly `torch.randn(fan_in, fan_out)`, so the notebook's
weights are reproduced under the same `torch.manual_seed`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from corebp.errors import ConfigError, did_you_mean

Shape = tuple[int, ...]


def fans(shape: Shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: (in, out) for a matrix, torch's for a conv kernel."""
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) < 2:
        raise ConfigError(f"a weight needs at least 2 dimensions to have fans, got shape {shape}.")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _normal(shape: Shape, std: float, **kw) -> Tensor:
    w = torch.randn(shape, **kw)
    return w if std == 1.0 else w.mul_(std)


def _uniform(shape: Shape, bound: float, **kw) -> Tensor:
    return torch.rand(shape, **kw).mul_(2 * bound).sub_(bound)


def normal(shape: Shape, std: float = 1.0, **kw) -> Tensor:
    """N(0, std²); std 1 is the notebook's `torch.randn`."""
    return _normal(shape, std, **kw)


def uniform(shape: Shape, bound: float | None = None, **kw) -> Tensor:
    """U(-b, b), b = 1/√fan_in by default (torch.nn.Linear's default scale)."""
    return _uniform(shape, 1 / math.sqrt(fans(shape)[0]) if bound is None else bound, **kw)


def xavier(shape: Shape, **kw) -> Tensor:
    """Glorot uniform: U(-b, b), b = √(6 / (fan_in + fan_out))."""
    return _uniform(shape, math.sqrt(6 / sum(fans(shape))), **kw)


def kaiming(shape: Shape, **kw) -> Tensor:
    """He normal: N(0, 2 / fan_in), for ReLU networks."""
    return _normal(shape, math.sqrt(2 / fans(shape)[0]), **kw)


def lecun(shape: Shape, **kw) -> Tensor:
    """LeCun normal: N(0, 1 / fan_in)."""
    return _normal(shape, math.sqrt(1 / fans(shape)[0]), **kw)


def zeros(shape: Shape, generator: torch.Generator | None = None, **kw) -> Tensor:
    """All zeros (`generator` is accepted like the others' and unused)."""
    return torch.zeros(shape, **kw)


INITIALISERS: dict[str, Callable[..., Tensor]] = {
    "normal": normal,
    "uniform": uniform,
    "xavier": xavier,
    "glorot": xavier,
    "kaiming": kaiming,
    "he": kaiming,
    "lecun": lecun,
    "zeros": zeros,
}


def initialise(name: str, shape: Shape, **kw) -> Tensor:
    """Draw a tensor of `shape` with the initialiser called `name`."""
    try:
        fn = INITIALISERS[name]
    except KeyError:
        raise ConfigError(
            f"init={name!r} is not a known initialiser; expected one of "
            f"{', '.join(sorted(INITIALISERS))}.{did_you_mean(name, INITIALISERS)}"
        ) from None
    return fn(shape, **kw)
