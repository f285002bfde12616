"""A dataset from a Debian package: read where it is installed, or `apt-get download`ed.

Debian packages some datasets (Fashion-MNIST as `dataset-fashion-mnist`, MIT licence) as
`.gz` files under /usr/share/datasets/. Installed, they are files on disk; otherwise the
`.deb` is fetched with `apt-get download` (no root needed, nothing installed) into a
scratch directory and unpacked there with `dpkg-deb -x`. Debian recompressed the files,
so the `.gz` MD5s differ from upstream's; the uncompressed contents are canonical, and
those are what corebp verifies.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from corebp.errors import DataError

#: The root the packages are installed under (tests point it elsewhere).
INSTALL_ROOT = Path("/")
APT_TIMEOUT_S = 300


@dataclass(frozen=True)
class DebianPackage:
    """A Debian package that installs a dataset's `.gz` files into `folder` (below /)."""

    name: str
    folder: str

    @property
    def installed(self) -> Path:
        return INSTALL_ROOT / self.folder

    @property
    def install_command(self) -> str:
        return f"sudo apt-get install {self.name}"


def read_gz_folder(folder: Path) -> dict[str, bytes]:
    """{name: uncompressed bytes} of every `<folder>/<name>.gz`."""
    found = {}
    for gz in sorted(folder.glob("*.gz")):
        try:
            found[gz.name.removesuffix(".gz")] = gzip.decompress(gz.read_bytes())
        except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
            raise DataError(f"{gz}: not a whole gzip file ({e}).") from e
    return found


def _run(command: list[str], workdir: Path, progress: bool) -> None:
    if shutil.which(command[0]) is None:
        raise DataError(f"`{command[0]}` is not on this machine (a Debian or Ubuntu tool)")
    try:
        done = subprocess.run(
            command,
            cwd=workdir,
            capture_output=not progress,
            text=True,
            check=False,
            timeout=APT_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise DataError(f"`{' '.join(command)}` took over {APT_TIMEOUT_S} s") from None
    if done.returncode != 0:
        tail = " ".join((done.stderr or "").strip().splitlines()[-2:])
        raise DataError(f"`{' '.join(command)}` failed (exit {done.returncode}). {tail}".strip())


def download_package(package: DebianPackage, workdir: Path, progress: bool) -> dict[str, bytes]:
    """`apt-get download` the package into `workdir`, unpack it there, and return {name:
    uncompressed bytes} of its `.gz` files."""
    _run(["apt-get", "download", "--quiet", package.name], workdir, progress)
    debs = sorted(workdir.glob(f"{package.name}_*.deb"))
    if not debs:
        raise DataError(f"`apt-get download {package.name}` wrote no .deb file")
    unpacked = workdir / "unpacked"
    _run(["dpkg-deb", "-x", str(debs[0]), str(unpacked)], workdir, progress)
    return read_gz_folder(unpacked / package.folder)
