"""The data-source contract: labelled examples in splits, yielded as device-ready batches."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from corebp.inference.preprocess import ImagePreprocessing


class DataSource:
    """Base class of data sources.

    Built as `Source(device=..., dtype=..., seed=..., validation_split=..., **arguments)`.
    A source knows `input_shape` (one example, e.g. (784,) or (1, 28, 28)), `num_classes`
    and its `splits()` ("train", "test", and "val" when a validation share is held out).
    `batches()` yields (x, y): x of `dtype` shaped (N, *input_shape), y int64 (N,), both on
    `device`, shuffled by the given generator, the last partial batch kept unless
    `drop_last`. With `shard=(rank, world)` (data-parallel training) it yields, of each such
    global batch, rank's part of `torch.tensor_split(batch, world)`: the same permutation on
    every rank, the first `N % world` ranks one example more. A source without the `shard`
    argument trains in one process only.
    """

    input_shape: tuple[int, ...]
    num_classes: int

    def __init__(
        self,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        seed: int = 0,
        validation_split: float = 0.0,
    ) -> None:
        self.device = torch.device(device)
        self.dtype = dtype
        self.seed = seed
        self.validation_split = validation_split

    def splits(self) -> list[str]:
        raise NotImplementedError(f"{type(self).__name__} must implement splits()")

    def num_examples(self, split: str) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement num_examples()")

    def batches(
        self,
        split: str,
        batch_size: int,
        *,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: torch.Generator | None = None,
        shard: tuple[int, int] = (0, 1),
    ) -> Iterator[tuple[Tensor, Tensor]]:
        raise NotImplementedError(f"{type(self).__name__} must implement batches()")

    def provenance(self) -> dict[str, str]:
        """Facts worth recording about the data (e.g. file MD5s); empty by default."""
        return {}

    def preprocessing(self) -> ImagePreprocessing | None:
        """How an image file becomes one input, when the examples are images; else None.

        A run records it in preprocessing.json, which `corebp predict` applies to new images.
        """
        return None
