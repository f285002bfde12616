"""Pickled numpy arrays read without running code: an unpickler that builds arrays only.

MNIST's PyPI fallback (`mnist.pkl.gz`) and CIFAR-10's batches are pickles of plain
containers (tuples, dicts, lists, bytes, numbers) and numpy arrays. Any other global a
pickle names (a function it would call while loading) is refused before it is looked up.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

from corebp.errors import DataError

_RECONSTRUCT = np.ndarray((0,)).__reduce__()[0]
#: What a pickled numpy array refers to (numpy 1's and numpy 2's module names).
ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
}


class _ArraysOnly(pickle.Unpickler):
    def __init__(self, data: bytes, where: str, encoding: str) -> None:
        super().__init__(io.BytesIO(data), encoding=encoding)
        self.where = where

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED:
            raise DataError(f"{self.where} refers to {module}.{name}; expected numpy arrays only")
        return ALLOWED[(module, name)]


def load_arrays(data: bytes, where: str, *, encoding: str) -> Any:
    """The object pickled in `data`, which may hold numpy arrays and plain containers only.

    `where` names the pickle in errors; `encoding` decodes Python 2 strings ("latin1",
    or "bytes" to keep them bytes).
    """
    return _ArraysOnly(data, where, encoding).load()
