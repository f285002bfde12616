"""The MNIST-family source code path, run on a tiny dataset: arguments, errors, provenance."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch
from corebp_data.idx import decode_idx, encode_idx
from corebp_data.mnist import IdxImageSource
from tiny_dataset import N_TEST, N_TRAIN, make_tiny, tiny_bytes

from corebp.errors import ConfigError, DataError


def images(split: str = "train") -> torch.Tensor:
    name = f"{'train' if split == 'train' else 't10k'}-images-idx3-ubyte"
    return decode_idx(tiny_bytes()[name], ndim=3, name=name, fix="")


def test_missing_files_are_fetched_on_first_use(tiny_source, tmp_path):
    source = tiny_source(root=tmp_path)
    assert source.num_examples("train") == N_TRAIN and source.num_examples("test") == N_TEST
    assert source.input_shape == (784,) and source.num_classes == 10


def test_default_normalisation_is_the_datasets_constants(tiny_source, tmp_path):
    x, _ = next(tiny_source(root=tmp_path).batches("train", N_TRAIN))
    expected = (images().float().div(255) - 0.5) / 0.25
    assert torch.equal(x, expected.reshape(N_TRAIN, 784))


@pytest.mark.parametrize(
    ("normalize", "mean", "std"), [("none", 0.0, 1.0), (None, 0.0, 1.0), ([0.2, 0.5], 0.2, 0.5)]
)
def test_normalize_none_or_custom(tiny_source, tmp_path, normalize, mean, std):
    x, _ = next(tiny_source(root=tmp_path, normalize=normalize).batches("test", N_TEST))
    expected = (images("test").float().div(255) - mean) / std
    torch.testing.assert_close(x, expected.reshape(N_TEST, 784), rtol=0, atol=1e-6)


def test_bad_normalize_says_what_is_accepted(tiny_source, tmp_path):
    with pytest.raises(ConfigError, match=r"normalize: \[0.1\]; expected 'default', 'none'"):
        tiny_source(root=tmp_path, normalize=[0.1])


def test_flatten_false_gives_image_shape(tiny_source, tmp_path):
    source = tiny_source(root=tmp_path, flatten=False)
    assert source.input_shape == (1, 28, 28)
    assert next(source.batches("train", 4))[0].shape == (4, 1, 28, 28)


def test_download_false_on_empty_root_says_how_to_fetch(tiny_source, tmp_path):
    with pytest.raises(DataError, match=rf"is missing.*corebp data fetch tiny --root {tmp_path}"):
        tiny_source(root=tmp_path, download=False)


def test_provenance_lists_every_file_md5(tiny, tiny_source, tmp_path):
    prov = tiny_source(root=tmp_path).provenance()
    assert prov == {f"Tiny/raw/{f.name}": f"md5:{f.md5}" for f in tiny.files}


def test_labels_outside_class_range_in_idx_file_are_refused(tmp_path):
    data = tiny_bytes()
    data["t10k-labels-idx1-ubyte"] = encode_idx(np.full(N_TEST, 12, np.uint8))
    ds = make_tiny(data=data)

    class Bad(IdxImageSource):
        dataset = ds  # type: ignore[assignment]

    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte: labels range over \[12, 12\]"):
        Bad(root=tmp_path)


def test_gz_only_dataset_reads_its_verified_gz_and_lists_them_when_absent(tmp_path):
    """Fashion-MNIST-like: corebp trusts the .gz files (the only published MD5s)."""
    ds = make_tiny(known_md5=False)

    class GzOnly(IdxImageSource):
        dataset = ds  # type: ignore[assignment]

    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz  md5 [0-9a-f]{32}"):
        GzOnly(root=tmp_path)
    raw = tmp_path / "Tiny" / "raw"
    for name, b in tiny_bytes().items():
        (raw / (name + ".gz")).write_bytes(gzip.compress(b, mtime=0))
    x, _ = next(GzOnly(root=tmp_path, normalize="none").batches("train", N_TRAIN))
    assert torch.equal(x, images().float().div(255).reshape(N_TRAIN, 784))


def test_pad_adds_a_background_border_before_normalising(tiny_source, tmp_path):
    padded = tiny_source(root=tmp_path, flatten=False, pad=2)
    plain = tiny_source(root=tmp_path, flatten=False)
    assert padded.input_shape == (1, 32, 32)
    x, _ = next(padded.batches("train", N_TRAIN))
    inner, _ = next(plain.batches("train", N_TRAIN))
    assert torch.equal(x[:, :, 2:-2, 2:-2], inner)
    border = x.clone()
    border[:, :, 2:-2, 2:-2] = -2.0
    assert torch.equal(border, torch.full_like(x, (0 - 0.5) / 0.25))  # byte 0, normalised


def test_resize_after_pad_and_flatten_give_a_flat_32x32(tiny_source, tmp_path):
    source = tiny_source(root=tmp_path, resize=32)
    assert source.input_shape == (32 * 32,)
    x, _ = next(source.batches("test", N_TEST))
    plain, _ = next(tiny_source(root=tmp_path, flatten=False).batches("test", N_TEST))
    expected = torch.nn.functional.interpolate(
        plain, size=(32, 32), mode="bilinear", align_corners=False, antialias=True
    )
    assert torch.equal(x, expected.flatten(1))


@pytest.mark.parametrize(
    ("args", "message"),
    [({"pad": -1}, r"pad=-1 must be a number of pixels ≥ 0"), ({"resize": 0}, r"resize=0 must")],
)
def test_bad_pad_or_resize_is_named(tiny_source, tmp_path, args, message):
    with pytest.raises(ConfigError, match=message):
        tiny_source(root=tmp_path, **args)
