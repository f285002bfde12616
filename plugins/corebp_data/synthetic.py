"""Small generated datasets for tests and demos: interleaved spirals or Gaussian blobs."""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import torch
from torch import Tensor

from corebp.errors import ConfigError
from corebp_data.memory import InMemorySource


def spirals(n: int, num_classes: int, noise: float, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """`num_classes` arms in the plane: class k at radius r in [0, 1), angle 4r + 2πk/K + noise."""
    y = torch.arange(n) % num_classes
    r = torch.rand(n, generator=gen, dtype=torch.float64)
    angle = (
        4 * r
        + 2 * math.pi * y / num_classes
        + noise * torch.randn(n, generator=gen, dtype=torch.float64)
    )
    return torch.stack([r * torch.sin(angle), r * torch.cos(angle)], dim=1), y


def blobs(
    n: int, num_classes: int, noise: float, gen: torch.Generator, dims: int
) -> tuple[Tensor, Tensor]:
    """Class k drawn from N(c_k, noise² I), the centres c_k uniform in [-1, 1]^dims."""
    centres = torch.rand(num_classes, dims, generator=gen, dtype=torch.float64) * 2 - 1
    y = torch.arange(n) % num_classes
    return centres[y] + noise * torch.randn(n, dims, generator=gen, dtype=torch.float64), y


class SyntheticSource(InMemorySource):
    """Generated data: `kind` "spirals" (2-D) or "blobs" (`dims`-D), `num_classes` classes.

    `train_size` and `test_size` examples, classes in turn; `noise` is the angle jitter
    (spirals) or the blob standard deviation. The data depend on `data_seed` only, so runs
    with different training seeds see the same data.

    Args:
        kind: spirals, K interleaved arms in the plane; blobs, K Gaussian clusters with
            centres uniform in [−1, 1]^dims.
        num_classes: K, the number of classes, ≥ 2.
        train_size: training examples, ≥ num_classes (classes take turns).
        test_size: test examples, ≥ 0; 0: no test split.
        noise: the angle jitter's standard deviation in radians (spirals) or each blob's
            standard deviation (blobs).
        dims: the input features of blobs; spirals are always 2-D.
        data_seed: the seed the data are drawn with, independent of train.seed.
    """

    check_args: ClassVar = [
        {},
        {
            "kind": "blobs",
            "num_classes": 4,
            "train_size": 50,
            "test_size": 20,
            "noise": 0.5,
            "dims": 3,
            "data_seed": 1,
        },
    ]

    def __init__(
        self,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        seed: int = 0,
        validation_split: float = 0.0,
        kind: Literal["spirals", "blobs"] = "spirals",
        num_classes: int = 3,
        train_size: int = 600,
        test_size: int = 300,
        noise: float = 0.2,
        dims: int = 2,
        data_seed: int = 0,
    ) -> None:
        super().__init__(device=device, dtype=dtype, seed=seed, validation_split=validation_split)
        if kind not in ("spirals", "blobs"):
            raise ConfigError(f"kind: {kind!r}; expected 'spirals' or 'blobs'.")
        if num_classes < 2 or train_size < num_classes or test_size < 0:
            raise ConfigError(
                f"num_classes={num_classes}, train_size={train_size}, test_size={test_size}; "
                "expected num_classes >= 2 and train_size >= num_classes >= 2."
            )
        gen = torch.Generator().manual_seed(data_seed)
        n = train_size + test_size
        if kind == "spirals":
            x, y = spirals(n, num_classes, noise, gen)
        else:
            x, y = blobs(n, num_classes, noise, gen, dims)
        self.num_classes = num_classes
        test = (x[train_size:], y[train_size:]) if test_size else None
        self._hold((x[:train_size], y[:train_size]), test)
