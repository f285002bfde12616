"""Your own data from files a recipe names: `.npz` archives and `.csv` tables."""

from __future__ import annotations

import hashlib
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

from corebp.errors import ConfigError, DataError
from corebp_data.memory import InMemorySource, NormalizeArg
from corebp_data.tensors import hold_examples


def _existing(path: str | os.PathLike[str], key: str, root: str | os.PathLike[str] | None) -> Path:
    """`path` (relative ones under `root`, default the working directory), which must exist."""
    p = Path(root or ".").expanduser() / Path(path).expanduser()
    if not p.is_file():
        raise DataError(
            f"{key}: {p} does not exist or is not a file; expected a path to your data."
        )
    return p


class NpzSource(InMemorySource):
    """A `.npz` archive with arrays `x_train`, `y_train` and optionally `x_test`, `y_test`.

    The key names are Keras' (its `mnist.npz` loads as is). A relative `path` is taken
    under `root` (a recipe's `data.root`), else the working directory. uint8 images are scaled by
    1/255 as torchvision's ToTensor does unless `divide_by` says otherwise; `normalize`
    = [mean, std] then applies (x - mean) / std; `num_classes` defaults to max label + 1.

    Args:
        path: the .npz file (relative: under `root`).
        root: the folder a relative `path` is under; null: the working directory.
        num_classes: the number of classes, > every label; null: the largest label + 1.
        divide_by: what every input is divided by first; null: 255 for uint8 inputs, else 1.
        normalize: [mean, std] to apply (x − mean) / std after `divide_by`; none or null:
            no normalisation.
    """

    def __init__(
        self,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        seed: int = 0,
        validation_split: float = 0.0,
        path: str | os.PathLike[str],
        root: str | os.PathLike[str] | None = None,
        num_classes: int | None = None,
        divide_by: float | None = None,
        normalize: NormalizeArg = None,
    ) -> None:
        super().__init__(device=device, dtype=dtype, seed=seed, validation_split=validation_split)
        p = _existing(path, "path", root)
        try:
            with np.load(p, allow_pickle=False) as archive:
                arrays = {k: archive[k] for k in archive.files}
        except (OSError, ValueError, zipfile.BadZipFile) as e:
            raise DataError(
                f"{p}: cannot be read as a .npz archive ({e}); expected np.savez output."
            ) from e
        wanted = ["x_train", "y_train"]
        if "x_test" in arrays or "y_test" in arrays:
            wanted += ["x_test", "y_test"]
        absent = [k for k in wanted if k not in arrays]
        if absent:
            raise DataError(
                f"{p}: has arrays {sorted(arrays)}, lacks {absent}; expected x_train, y_train "
                "and optionally x_test, y_test. Fix: np.savez(path, x_train=..., y_train=..., ...)."
            )
        test = (arrays["x_test"], arrays["y_test"]) if "x_test" in arrays else None
        hold_examples(
            self,
            (arrays["x_train"], arrays["y_train"]),
            test,
            names=(f"{p} (x_train, y_train)", f"{p} (x_test, y_test)"),
            num_classes=num_classes,
            divide_by=divide_by,
            normalize=normalize,
        )
        self._provenance[str(p)] = f"sha256:{_sha256(p)}"


class CsvSource(InMemorySource):
    """Comma-separated tables, one example per row: `train` and optionally `test` paths.

    Relative paths are taken under `root` (a recipe's `data.root`), else the working
    directory. `label_column` (an index, negative from the end, or a header name) holds the class;
    every other column is a feature. A first row that is not all numbers is a header.
    Features are used as they are unless `divide_by` (e.g. 255 for pixel values) and
    `normalize` = [mean, std] say otherwise.

    Args:
        train: the training table's file (relative: under `root`).
        test: the test table's file; null: no test split.
        root: the folder relative paths are under; null: the working directory.
        label_column: the column of the class labels: an index (negative: from the end) or
            a header name.
        num_classes: the number of classes, > every label; null: the largest label + 1.
        divide_by: what every feature is divided by first (e.g. 255 for pixel values);
            null: features as they are.
        normalize: [mean, std] to apply (x − mean) / std after `divide_by`; none or null:
            no normalisation.
    """

    def __init__(
        self,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        seed: int = 0,
        validation_split: float = 0.0,
        train: str | os.PathLike[str],
        test: str | os.PathLike[str] | None = None,
        root: str | os.PathLike[str] | None = None,
        label_column: int | str = 0,
        num_classes: int | None = None,
        divide_by: float | None = None,
        normalize: NormalizeArg = None,
    ) -> None:
        super().__init__(device=device, dtype=dtype, seed=seed, validation_split=validation_split)
        paths = {"train": _existing(train, "train", root)}
        if test is not None:
            paths["test"] = _existing(test, "test", root)
        pairs = {s: _read_csv(p, label_column) for s, p in paths.items()}
        hold_examples(
            self,
            pairs["train"],
            pairs.get("test"),
            names=(str(paths["train"]), str(paths.get("test"))),
            num_classes=num_classes,
            divide_by=divide_by,
            normalize=normalize,
        )
        self._provenance.update({str(p): f"sha256:{_sha256(p)}" for p in paths.values()})


def _read_csv(path: Path, label_column: int | str) -> tuple[np.ndarray, np.ndarray]:
    with path.open() as f:
        first = f.readline().strip().split(",")
    try:
        [float(v) for v in first]
        header: list[str] | None = None
    except ValueError:
        header = [h.strip() for h in first]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": below
            table = np.loadtxt(path, delimiter=",", skiprows=int(header is not None), ndmin=2)
    except ValueError as e:
        raise DataError(f"{path}: {e}; expected numbers separated by commas.") from e
    if table.shape[0] == 0:
        raise DataError(f"{path}: no data rows; expected one example per line after any header.")
    if isinstance(label_column, str):
        if header is None or label_column not in header:
            raise ConfigError(
                f"label_column: {label_column!r} is not a column of {path}; its header is "
                f"{header or 'absent'}. Fix: give the column's name or index."
            )
        label_column = header.index(label_column)
    if not -table.shape[1] <= label_column < table.shape[1]:
        raise ConfigError(
            f"label_column: {label_column} is outside the {table.shape[1]} columns of {path}."
        )
    return np.delete(table, label_column, axis=1), table[:, label_column]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
