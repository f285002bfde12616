"""CIFAR-10: 32×32 colour images in 10 classes, read from the canonical python tarball.

`cifar-10-python.tar.gz` (MD5 c58f30108f718f92721af3b95e74349a, from URL) holds
`cifar-10-batches-py/`: `data_batch_1` … `data_batch_5` (the training set, in that order),
`test_batch` and `batches.meta`. Each batch is a pickled dict: b"data", uint8 (n, 3072),
each row an image's 1024 red values, then green, then blue, rows top to bottom; b"labels",
n class indices 0–9. `batches.meta`'s b"label_names" names the classes. The pickles are
read with an unpickler that builds numpy arrays and plain containers only (safe_pickle).
"""

from __future__ import annotations

import io
import os
import re
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from corebp.errors import ConfigError, DataError
from corebp.inference.preprocess import ImagePreprocessing, Normalization
from corebp.util.env import env_flag
from corebp_data.fetch import OFFLINE_ENV, download_verified, reachable
from corebp_data.idx import check_md5
from corebp_data.memory import InMemorySource, NormalizeArg, check_labels, resolve_normalize
from corebp_data.root import ensure_writable, resolve_root
from corebp_data.safe_pickle import load_arrays

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
TARBALL = "cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
#: Mean and standard deviation of byte / 255 over the 50 000 training images, per channel
#: (red, green, blue), over every pixel: (0.49140, 0.48216, 0.44653), (0.24703, 0.24349,
#: 0.26159). (The often quoted std (0.2023, 0.1994, 0.2010) is not the pixels' std.)
NORMALIZE: Normalization = ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
SIDE, CHANNELS, NUM_CLASSES = 32, 3, 10


class CIFAR10(InMemorySource):
    """CIFAR-10 (50k train, 10k test colour images of 10 classes) from its python tarball.

    Args:
        root: the data root; null: $COREBP_DATA, else ~/.cache/corebp.
        path: the tarball (relative: under `root`), torchvision's name and place by default.
        md5: the MD5 the tarball must have; the canonical one by default (a copy of your
            own in the same layout needs its own).
        download: fetch a missing tarball from the official URL (not with COREBP_OFFLINE=1);
            false: a missing tarball is an error.
        flatten: inputs of shape (3072,); false: (3, 32, 32) images for conv2d.
        normalize: x = (byte / 255 − mean) / std per channel with: default, the training
            pixels' (0.4914, 0.4822, 0.4465) and (0.2470, 0.2435, 0.2616); none or null,
            x = byte / 255; [mean, std] for every channel; or [[3 means], [3 stds]].
    """

    def __init__(
        self,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        seed: int = 0,
        validation_split: float = 0.0,
        root: str | os.PathLike[str] | None = None,
        path: str | os.PathLike[str] = TARBALL,
        md5: str = MD5,
        download: bool = True,
        flatten: bool = False,
        normalize: NormalizeArg = "default",
    ) -> None:
        super().__init__(device=device, dtype=dtype, seed=seed, validation_split=validation_split)
        if not isinstance(md5, str) or not re.fullmatch(r"[0-9a-f]{32}", md5):
            raise ConfigError(
                f"md5: {md5!r}; expected 32 lowercase hex digits, e.g. md5: {MD5} (the "
                "canonical tarball's, the default)."
            )
        tarball = resolve_root(root) / Path(path).expanduser()
        if not tarball.is_file() and download:
            _download(tarball, md5)
        members = read_tarball(tarball, md5)
        train = [_batch(members, name) for name in TRAIN_BATCHES]
        batches = {
            "train": (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train])),
            "test": _batch(members, "test_batch"),
        }
        self.num_classes = NUM_CLASSES
        self.normalize = resolve_normalize(normalize, NORMALIZE, channels=CHANNELS)
        self._preprocessing = ImagePreprocessing(
            height=SIDE,
            width=SIDE,
            channels=CHANNELS,
            normalize=self.normalize,
            input_shape=(CHANNELS * SIDE * SIDE,) if flatten else (CHANNELS, SIDE, SIDE),
            classes=_label_names(members),
        )
        splits = {}
        for split, (x, labels) in batches.items():
            y = torch.from_numpy(labels)
            check_labels(y, NUM_CLASSES, f"{tarball} ({split} labels)")
            pixels = torch.from_numpy(x).reshape(-1, CHANNELS, SIDE, SIDE)
            splits[split] = (self._preprocessing.apply(pixels.to(self.device), dtype), y)
        self._hold(splits["train"], splits["test"])
        self._provenance[str(tarball)] = f"md5:{md5}"

    def preprocessing(self) -> ImagePreprocessing:
        """A 32×32 RGB image, as every split's images were made into inputs."""
        return self._preprocessing


def _fix(tarball: Path) -> str:
    return (
        f"delete {tarball} and run again to download it (download: true), or download {URL} "
        f"(MD5 {MD5}) to {tarball} yourself."
    )


def _download(tarball: Path, md5: str) -> None:
    """Put the tarball at `tarball` from URL, MD5-checked, or raise DataError saying how."""
    by_hand = f"Fix: download {URL} (MD5 {MD5}) to {tarball}, or set data.args.path to it."
    if env_flag(OFFLINE_ENV):
        raise DataError(f"{tarball} is missing and {OFFLINE_ENV}=1 forbids downloading. {by_hand}")
    why = reachable(URL)
    if why is not None:
        raise DataError(f"{tarball} is missing and {why}. {by_hand}")
    ensure_writable(tarball.parent)
    print(f"corebp: fetching CIFAR-10 into {tarball}", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=tarball.parent, prefix=".download-") as tmp:
        try:
            got = download_verified(URL, Path(tmp), TARBALL, md5)
        except (OSError, RuntimeError) as e:
            raise DataError(
                f"{tarball} is missing and downloading {URL} failed ({e}). {by_hand}"
            ) from None
        os.replace(got, tarball)


def read_tarball(tarball: Path, md5: str) -> dict[str, bytes]:
    """{member name below FOLDER: bytes} of the tarball, after its MD5 check."""
    if not tarball.is_file():
        raise DataError(
            f"{tarball} is missing; expected the CIFAR-10 python tarball. Fix: download {URL} "
            f"(MD5 {MD5}) to {tarball}, or pass download: true, or set data.args.path to it."
        )
    data = tarball.read_bytes()
    check_md5(data, md5, name=str(tarball), fix=_fix(tarball))
    members = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar:
                folder, _, name = member.name.partition("/")
                extracted = tar.extractfile(member) if member.isfile() else None
                if folder == FOLDER and extracted is not None:
                    members[name] = extracted.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise DataError(
            f"{tarball}: cannot be read as a .tar.gz ({e}); the file is truncated or damaged. "
            f"Fix: {_fix(tarball)}"
        ) from None
    wanted = [*TRAIN_BATCHES, "test_batch", "batches.meta"]
    if absent := [n for n in wanted if n not in members]:
        raise DataError(
            f"{tarball}: lacks {', '.join(f'{FOLDER}/{n}' for n in absent)}; expected the "
            f"canonical layout ({FOLDER}/data_batch_1…5, test_batch, batches.meta). Fix: "
            f"{_fix(tarball)}"
        )
    return members


def _unpickled(members: dict[str, bytes], name: str) -> dict[str, Any]:
    """The dict pickled in member `name`, its keys as str (the canonical ones are bytes)."""
    where = f"{FOLDER}/{name}"
    found = load_arrays(members[name], where, encoding="bytes")
    if not isinstance(found, dict):
        raise DataError(f"{where}: holds a {type(found).__name__}; expected a dict.")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in found.items()}


def _batch(members: dict[str, bytes], name: str) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images (n, 3072), int64 labels (n,)) of one batch, checked."""
    batch = _unpickled(members, name)
    x, y = batch.get("data"), np.asarray(batch.get("labels", []))
    if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072:
        found = f"{x.dtype} {x.shape}" if isinstance(x, np.ndarray) else type(x).__name__
        raise DataError(
            f"{FOLDER}/{name}: 'data' is {found}; expected uint8 (n, 3072), as in the "
            "canonical tarball."
        )
    if y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise DataError(
            f"{FOLDER}/{name}: 'labels' are {y.dtype} {y.shape}; expected {x.shape[0]} "
            "integers, one per image."
        )
    return x, y.astype(np.int64)


def _label_names(members: dict[str, bytes]) -> tuple[str, ...]:
    names = _unpickled(members, "batches.meta").get("label_names")
    if not isinstance(names, list) or len(names) != NUM_CLASSES:
        raise DataError(
            f"{FOLDER}/batches.meta: 'label_names' is {names!r:.80}; expected a list of "
            f"{NUM_CLASSES} names."
        )
    return tuple(n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names)
