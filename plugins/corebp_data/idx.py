"""The IDX file format of MNIST and its relatives: decoding, encoding, MD5 checks.

An IDX file is a big-endian header, magic = 0x0800 + ndim (0x08: unsigned bytes), then
ndim uint32 sizes, then prod(sizes) bytes. Images: magic 2051, sizes (n, 28, 28);
labels: magic 2049, sizes (n,).
"""

from __future__ import annotations

import hashlib
import math
import struct

import numpy as np
import torch
from torch import Tensor

from corebp.errors import DataError

UBYTE = 0x08


def magic_for(ndim: int) -> int:
    """The magic number of an unsigned-byte IDX file with `ndim` dimensions (3 -> 2051)."""
    return (UBYTE << 8) | ndim


def encode_idx(array: np.ndarray | Tensor) -> bytes:
    """The IDX bytes of a uint8 array: header then the values in C order."""
    data = np.ascontiguousarray(array.numpy() if isinstance(array, Tensor) else array)
    if data.dtype != np.uint8:
        raise ValueError(f"encode_idx takes uint8 values, got {data.dtype}")
    header = struct.pack(f">I{data.ndim}I", magic_for(data.ndim), *data.shape)
    return header + data.tobytes()


def decode_idx(data: bytes, *, ndim: int, name: str, fix: str) -> Tensor:
    """The uint8 tensor stored in IDX `data`, which must have `ndim` dimensions.

    `name` (the file) and `fix` (what the user should do) go into the error message.
    """
    expected = magic_for(ndim)
    header_size = 4 * (ndim + 1)
    if len(data) < header_size:
        raise DataError(
            f"{name}: {len(data)} bytes, shorter than the {header_size}-byte IDX header; "
            f"the file is truncated. Fix: {fix}"
        )
    magic, *shape = struct.unpack_from(f">I{ndim}I", data)
    if magic != expected:
        raise DataError(
            f"{name}: magic number {magic} (0x{magic:08x}); expected {expected} "
            f"(0x{expected:08x}), an IDX file of unsigned bytes with {ndim} dimension(s). "
            f"The file is not in this format or is damaged. Fix: {fix}"
        )
    needed = header_size + math.prod(shape)
    if len(data) != needed:
        raise DataError(
            f"{name}: {len(data)} bytes, but its header (sizes {tuple(shape)}) needs {needed}; "
            f"the file is {'truncated' if len(data) < needed else 'too long'}. Fix: {fix}"
        )
    values = np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape)
    return torch.from_numpy(values.copy())


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def check_md5(data: bytes, expected: str, *, name: str, fix: str) -> None:
    """Raise DataError naming `name`, the expected and the actual MD5 when they differ."""
    actual = md5_hex(data)
    if actual != expected:
        raise DataError(
            f"{name} has MD5 {actual}, expected {expected}: the file is corrupt, truncated or "
            f"not the canonical one, so corebp will not use it. Fix: {fix}"
        )
