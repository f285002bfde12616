"""Fashion-MNIST without the mirrors: Debian's package (installed or `apt-get download`ed),
verified by the MD5s of the decompressed files, normalised with its own mean and std, and
with its class names in the preprocessing record."""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import pytest
import torch
from corebp_data import debian
from corebp_data.mnist import FashionMNIST
from fashion import fetch_fashion_mnist

from corebp.errors import DataError

#: The issue's MD5s of the decompressed canonical files (Debian recompressed the .gz files).
MD5 = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}
CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


@pytest.fixture(scope="module")
def fetched(tmp_path_factory: pytest.TempPathFactory):
    """A fresh root filled without the mirrors and with no package installed."""
    root = tmp_path_factory.mktemp("fashion")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(debian, "INSTALL_ROOT", root / "no-system")
        mp.setenv("COREBP_SKIP_MIRRORS", "1")
        return fetch_fashion_mnist(root / "data")


@pytest.fixture
def installed(fetched, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A system root where the package's .gz files are installed."""
    folder = tmp_path / "system" / "usr" / "share" / "datasets" / "fashion-mnist"
    folder.mkdir(parents=True)
    for name in MD5:
        (folder / f"{name}.gz").write_bytes(gzip.compress((fetched.raw_dir / name).read_bytes()))
    monkeypatch.setattr(debian, "INSTALL_ROOT", tmp_path / "system")
    return folder


def test_without_mirrors_the_deb_is_downloaded_and_the_four_md5s_verified(fetched):
    assert set(fetched.md5s.items()) == set(MD5.items())
    for name, md5 in MD5.items():
        assert hashlib.md5((fetched.raw_dir / name).read_bytes()).hexdigest() == md5
        assert (
            fetched.how[name]
            == "rebuilt from Debian's dataset-fashion-mnist package (apt-get download)"
        )


def test_offline_the_installed_package_is_used(installed, tmp_path, monkeypatch, corebp_cli):
    monkeypatch.setenv("COREBP_OFFLINE", "1")
    code, out, err = corebp_cli("data", "fetch", "fashion_mnist", "--root", str(tmp_path / "r"))
    assert code == 0, err
    for name, md5 in MD5.items():
        assert f"  {md5}  {name}  ({installed / name}.gz, installed)" in out


def test_offline_without_the_package_says_how_to_install_it(tmp_path, monkeypatch, corebp_cli):
    monkeypatch.setattr(debian, "INSTALL_ROOT", tmp_path / "system")
    monkeypatch.setenv("COREBP_OFFLINE", "1")
    code, _, err = corebp_cli("data", "fetch", "fashion_mnist", "--root", str(tmp_path / "r"))
    assert code == 2 and err.startswith("corebp: error: could not get Fashion-MNIST")
    assert "Debian's dataset-fashion-mnist: not installed" in err
    assert "Fix: install Debian's package (`sudo apt-get install dataset-fashion-mnist`" in err


def test_apt_get_missing_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(debian, "INSTALL_ROOT", tmp_path / "system")
    monkeypatch.setattr(debian.shutil, "which", lambda name: None)
    with pytest.raises(DataError, match="`apt-get` is not on this machine"):
        debian.download_package(debian.DebianPackage("dataset-fashion-mnist", "x"), tmp_path, False)


def test_a_corrupted_byte_is_refused_naming_the_file_and_the_fix(
    fetched, installed, tmp_path, monkeypatch, corebp_cli
):
    root = tmp_path / "r"
    shutil.copytree(fetched.raw_dir, root / "FashionMNIST" / "raw")
    images = root / "FashionMNIST" / "raw" / "train-images-idx3-ubyte"
    data = bytearray(images.read_bytes())
    data[5000] ^= 0xFF
    images.write_bytes(bytes(data))
    code, _, err = corebp_cli("data", "fetch", "fashion_mnist", "--root", str(root))
    assert code == 2
    assert err.startswith(f"corebp: error: {images} has MD5 ")
    assert f"expected {MD5['train-images-idx3-ubyte']}" in err
    assert f"Fix: run `corebp data fetch fashion_mnist --root {root} --force`." in err
    monkeypatch.setenv("COREBP_OFFLINE", "1")
    code, _, err = corebp_cli("data", "fetch", "fashion_mnist", "--root", str(root), "--force")
    assert code == 0, err
    assert hashlib.md5(images.read_bytes()).hexdigest() == MD5["train-images-idx3-ubyte"]


def test_the_source_uses_fashion_mnists_own_mean_and_std_and_names_its_classes(fetched):
    source = FashionMNIST(root=fetched.raw_dir.parents[1], download=False, flatten=False)
    assert source.normalize == (0.2860, 0.3530)
    assert source.num_examples("train") == 60_000 and source.num_examples("test") == 10_000
    x, _ = next(source.batches("train", 60_000))
    assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1) < 1e-3
    assert source.preprocessing().classes == CLASSES
    assert x.dtype == torch.float32 and x.shape == (60_000, 1, 28, 28)
