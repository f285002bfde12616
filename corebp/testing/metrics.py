"""The conformance suite of metrics.

On each argument set, with seeded float64 outputs (N = 103, C = 6), integer targets and
per-sample losses: reset → update → compute gives what a fresh metric gives, `compute()`
twice gives the same JSON-serialisable value, and updating with two unequal parts of a
batch (31 and 72 samples) gives what updating with the whole batch gives.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from corebp.contracts.metric import Metric
from corebp.testing.core import Check, coverage_check, expect

N, C = 103, 6
#: The two parts of a batch that must add up to the whole.
FIRST_PART = 31
REL = 1e-12


def metric_checks(cls: type[Metric], sets: list[dict[str, Any]]) -> list[Check]:
    """Every check of a metric class, for each argument set."""
    checks = [coverage_check("metrics", "metric", cls, sets)]
    properties: list[tuple[str, Callable[[type[Metric], dict[str, Any]], None]]] = [
        ("reset, update and compute start afresh and compute is repeatable", _reset),
        ("updating with two parts of a batch equals updating with the whole", _two_parts),
    ]
    for args in sets:
        for prop, fn in properties:
            checks.append(Check("metric", cls, prop, _bound(fn, cls, args), args))
    return checks


def _bound(fn: Callable[[type[Metric], dict[str, Any]], None], cls: Any, args: Any):
    return lambda: fn(cls, args)


def _batch(seed: int) -> tuple[Tensor, Tensor, Tensor]:
    """(outputs (N, C), targets (N,), per-sample losses (N,))."""
    gen = torch.Generator().manual_seed(seed)
    output = torch.randn(N, C, dtype=torch.float64, generator=gen)
    target = torch.randint(0, C, (N,), generator=gen)
    return output, target, torch.rand(N, dtype=torch.float64, generator=gen) * 3


def _update(metric: Metric, batch: tuple[Tensor, Tensor, Tensor]) -> None:
    output, target, losses = batch
    metric.update(output, target, losses.sum())


def _same(a: Any, b: Any) -> bool:
    """Equal values: floats to 1e-12 relative (NaN equals NaN), containers element-wise."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) or isinstance(b, float):
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            return False
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=REL, abs_tol=0)
    return bool(a == b)


def _reset(cls: type[Metric], args: dict[str, Any]) -> None:
    metric = cls(C, **args)
    _update(metric, _batch(0))
    first = metric.compute()
    json.dumps(first)  # a TypeError here: compute() must return numbers, lists or dicts
    again = metric.compute()
    expect(_same(first, again), f"compute() gave {first!r}, then {again!r}")
    metric.reset()
    _update(metric, _batch(1))
    fresh = cls(C, **args)
    _update(fresh, _batch(1))
    after, expected = metric.compute(), fresh.compute()
    expect(
        _same(after, expected),
        f"after reset() and one batch, compute() gave {after!r}; a fresh metric gives "
        f"{expected!r} (reset must forget earlier batches)",
    )


def _two_parts(cls: type[Metric], args: dict[str, Any]) -> None:
    batch = _batch(2)
    parts, whole = cls(C, **args), cls(C, **args)
    for part in zip(*(t.split([FIRST_PART, N - FIRST_PART]) for t in batch), strict=True):
        _update(parts, part)
    _update(whole, batch)
    got, expected = parts.compute(), whole.compute()
    expect(
        _same(got, expected),
        f"updates with {FIRST_PART} then {N - FIRST_PART} samples gave {got!r}; one update "
        f"with all {N} gave {expected!r} (weight each batch by its size)",
    )
