"""A tiny MNIST-shaped dataset for the data tests, whose 'fallback' needs no network."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from corebp_data.catalog import IdxDataset, IdxFile
from corebp_data.idx import encode_idx, md5_hex

N_TRAIN, N_TEST = 50, 20


def tiny_bytes() -> dict[str, bytes]:
    """Four IDX files: 50 train and 20 test random 28×28 images, labels 0..9."""
    rng = np.random.default_rng(0)
    return {
        "train-images-idx3-ubyte": encode_idx(rng.integers(0, 256, (N_TRAIN, 28, 28), np.uint8)),
        "train-labels-idx1-ubyte": encode_idx((np.arange(N_TRAIN) % 10).astype(np.uint8)),
        "t10k-images-idx3-ubyte": encode_idx(rng.integers(0, 256, (N_TEST, 28, 28), np.uint8)),
        "t10k-labels-idx1-ubyte": encode_idx((np.arange(N_TEST) % 10).astype(np.uint8)),
    }


def make_tiny(*, known_md5: bool = True, data: dict[str, bytes] | None = None) -> IdxDataset:
    """A dataset like MNIST (known MD5s, a fallback) or Fashion-MNIST (.gz MD5s, none)."""
    fallback = known_md5
    data = data or tiny_bytes()
    files = tuple(
        IdxFile(name, md5_hex(gzip.compress(b, mtime=0)), md5_hex(b) if known_md5 else None)
        for name, b in data.items()
    )

    def rebuild(workdir: Path, progress: bool) -> dict[str, bytes]:
        return dict(data)

    return IdxDataset(
        key="tiny",
        title="Tiny",
        folder="Tiny",
        files=files,
        mirrors=("http://mirror.invalid/",),
        normalize=(0.5, 0.25),
        fallback=rebuild if fallback else None,
        fallback_name="the test fallback" if fallback else "",
    )
