"""The IDX reader/writer and the MD5 check: round trip, and errors that name the file."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch
from corebp_data.idx import check_md5, decode_idx, encode_idx, md5_hex

from corebp.errors import DataError

FIX = "run `corebp data fetch mnist --force`."


@pytest.mark.parametrize("shape", [(7,), (3, 28, 28), (0, 28, 28)])
def test_idx_round_trip_keeps_values_and_shape(shape):
    values = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    decoded = decode_idx(encode_idx(values), ndim=len(shape), name="f", fix=FIX)
    assert decoded.dtype == torch.uint8
    assert torch.equal(decoded, torch.from_numpy(values))


def test_idx_header_is_the_mnist_one():
    data = encode_idx(np.zeros((2, 28, 28), np.uint8))
    assert struct.unpack(">IIII", data[:16]) == (2051, 2, 28, 28)
    assert struct.unpack(">II", encode_idx(np.zeros(5, np.uint8))[:8]) == (2049, 5)


def test_wrong_magic_names_file_and_expected_magic():
    data = bytearray(encode_idx(np.zeros((2, 28, 28), np.uint8)))
    data[3] = 0x01  # 2049: a labels file where images are expected
    with pytest.raises(DataError, match=r"images\.bin: magic number 2049.*expected 2051") as e:
        decode_idx(bytes(data), ndim=3, name="images.bin", fix=FIX)
    assert "--force" in str(e.value)


@pytest.mark.parametrize("cut", [3, 16 + 100])
def test_truncated_file_is_refused_with_sizes(cut):
    data = encode_idx(np.zeros((2, 28, 28), np.uint8))[:cut]
    with pytest.raises(DataError, match=r"labels\.bin: \d+ bytes.*truncated"):
        decode_idx(data, ndim=3, name="labels.bin", fix=FIX)


def test_extra_bytes_are_refused():
    data = encode_idx(np.zeros(4, np.uint8)) + b"\0"
    with pytest.raises(DataError, match="needs 12; the file is too long"):
        decode_idx(data, ndim=1, name="x", fix=FIX)


def test_md5_mismatch_names_file_expected_md5_and_fix():
    good = b"corebp"
    with pytest.raises(DataError) as e:
        check_md5(good + b"!", md5_hex(good), name="/data/MNIST/raw/x", fix=FIX)
    message = str(e.value)
    assert "/data/MNIST/raw/x" in message
    assert f"expected {md5_hex(good)}" in message
    assert "corebp data fetch mnist --force" in message


def test_encode_refuses_non_bytes():
    with pytest.raises(ValueError, match="uint8"):
        encode_idx(np.zeros(3, np.float32))
