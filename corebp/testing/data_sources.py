"""The conformance suite of data sources.

Each argument set builds the source with `device="cpu"`, `seed=0` (float32, and float64 for
the dtype) and is checked for: every split yields batches of the declared
`input_shape` and dtype with int64 labels in [0, num_classes) that add up to
`num_examples` (and full batches with `drop_last`); two sources built with the same seed
yield the same shuffled batches, epoch after epoch, and the same for an explicit generator;
`validation_split` holds out a "val" split taken from "train".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from corebp.contracts.data_source import DataSource
from corebp.testing.core import Check, coverage_check, expect

VALIDATION_SPLIT = 0.25


def data_source_checks(cls: type[DataSource], sets: list[dict[str, Any]]) -> list[Check]:
    """Every check of a data-source class, for each argument set."""
    checks = [coverage_check("data_sources", "data source", cls, sets)]
    properties: list[tuple[str, Callable[[type[DataSource], dict[str, Any]], None]]] = [
        ("every split has the declared shapes, dtypes and sizes", _shapes),
        ("the same seed gives the same batches", _same_seed),
        ("validation_split holds out a val split from train", _validation),
    ]
    for args in sets:
        for prop, fn in properties:
            checks.append(Check("data source", cls, prop, _bound(fn, cls, args), args))
    return checks


def _bound(fn: Callable[[type[DataSource], dict[str, Any]], None], cls: Any, args: Any):
    return lambda: fn(cls, args)


def _build(cls: type[DataSource], args: dict[str, Any], **supplied: Any) -> DataSource:
    return cls(**{"device": "cpu", "seed": 0, **supplied}, **args)


def _batch_size(n: int) -> int:
    """Small enough for several batches, and not a divisor of n (a partial last batch)."""
    size = 7 if n < 1000 else 97
    return size + 1 if n % size == 0 else size


def _shapes(cls: type[DataSource], args: dict[str, Any]) -> None:
    source = _build(cls, args, dtype=torch.float32)
    splits = source.splits()
    expect("train" in splits, f"splits() is {splits}; expected at least 'train'")
    for split in splits:
        n = source.num_examples(split)
        size = _batch_size(n)
        for drop_last in (False, True):
            seen = 0
            where = f"split {split!r} (drop_last={drop_last})"
            for x, y in source.batches(split, size, drop_last=drop_last):
                _check_batch(source, x, y, torch.float32, where)
                expect(
                    not drop_last or x.shape[0] == size,
                    f"{where}: a batch of {x.shape[0]}; drop_last keeps only full batches",
                )
                seen += x.shape[0]
            expected = n - n % size if drop_last else n
            expect(
                seen == expected,
                f"{where}: batches of {size} hold {seen} examples; num_examples is {n}, so "
                f"expected {expected}",
            )
    wide = _build(cls, args, dtype=torch.float64)
    for split in wide.splits():
        for x, y in wide.batches(split, _batch_size(wide.num_examples(split))):
            _check_batch(wide, x, y, torch.float64, f"split {split!r} (dtype=torch.float64)")
            break


def _check_batch(source: DataSource, x: Tensor, y: Tensor, dtype: torch.dtype, where: str) -> None:
    shape = tuple(source.input_shape)
    expect(
        tuple(x.shape[1:]) == shape and x.dtype == dtype,
        f"{where}: x is {x.dtype} of shape {tuple(x.shape)}; expected {dtype} of shape "
        f"(N, {', '.join(map(str, shape))})",
    )
    expect(
        y.dtype == torch.int64 and tuple(y.shape) == (x.shape[0],),
        f"{where}: y is {y.dtype} of shape {tuple(y.shape)}; expected int64 of shape "
        f"({x.shape[0]},)",
    )
    expect(
        x.device == source.device and y.device == source.device,
        f"{where}: batches on {x.device}/{y.device}; expected {source.device}",
    )
    expect(
        y.numel() == 0 or (int(y.min()) >= 0 and int(y.max()) < source.num_classes),
        f"{where}: labels outside [0, {source.num_classes})",
    )


def _epochs(source: DataSource, generator: torch.Generator | None) -> list[Tensor]:
    """Two shuffled epochs of 'train', each as the concatenated labels and inputs."""
    n = source.num_examples("train")
    out = []
    for _ in range(2):
        batches = list(source.batches("train", _batch_size(n), shuffle=True, generator=generator))
        out.append(torch.cat([x.reshape(x.shape[0], -1) for x, _ in batches]))
        out.append(torch.cat([y for _, y in batches]))
    return out


def _same_seed(cls: type[DataSource], args: dict[str, Any]) -> None:
    a, b = _build(cls, args, seed=3), _build(cls, args, seed=3)
    for how, seeded in (("without a generator", False), ("with a generator", True)):
        runs = [_epochs(s, torch.Generator().manual_seed(5) if seeded else None) for s in (a, b)]
        expect(
            all(torch.equal(u, v) for u, v in zip(*runs, strict=True)),
            f"two sources built with seed=3 yield different shuffled batches {how}; draw "
            "every random number from the given generator, else from one seeded with `seed`",
        )


def _validation(cls: type[DataSource], args: dict[str, Any]) -> None:
    whole = _build(cls, args).num_examples("train")
    held = _build(cls, args, validation_split=VALIDATION_SPLIT)
    splits = held.splits()
    expect("val" in splits, f"splits() is {splits} with validation_split={VALIDATION_SPLIT}")
    parts = held.num_examples("train"), held.num_examples("val")
    expect(
        sum(parts) == whole and abs(parts[1] - whole * VALIDATION_SPLIT) <= 1,
        f"train and val hold {parts[0]} and {parts[1]} examples; expected about "
        f"{whole * VALIDATION_SPLIT:g} of the {whole} training examples held out as val",
    )
