"""Where dataset files live: `--root`, else $COREBP_DATA, else the user cache directory."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import platformdirs

from corebp.errors import DataError

ROOT_ENV = "COREBP_DATA"


def resolve_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The data root: `root` if given, else $COREBP_DATA, else e.g. ~/.cache/corebp.

    The cache directory comes from platformdirs, so $XDG_CACHE_HOME is honoured on Linux.
    Datasets sit below it in torchvision's layout: `<root>/MNIST/raw/train-images-idx3-ubyte`.
    """
    if root is None:
        root = os.environ.get(ROOT_ENV) or platformdirs.user_cache_dir("corebp")
    return Path(root).expanduser()


def ensure_writable(directory: Path) -> None:
    """Create `directory` if needed and prove a file can be written there, or raise DataError."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".corebp-write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise DataError(
            f"cannot write dataset files to {directory} ({e.strerror or e}); expected a writable "
            f"directory. Fix: pick another data root with --root DIR or {ROOT_ENV}=DIR, "
            "or make this one writable."
        ) from e
