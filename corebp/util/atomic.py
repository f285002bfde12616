"""Writing a file so that no reader ever sees half of it: temporary name, fsync, rename."""

from __future__ import annotations

import contextlib
import io
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

import torch

#: The temporary files `write_atomic` makes: ".<name>.<16 hex digits>.part".
PART = re.compile(r"\..+\.[0-9a-f]{16}\.part")


def leftovers(folder: Path) -> list[Path]:
    """The temporary files of `write_atomic` in `folder` (a writer killed mid-write leaves
    one); only whoever owns the folder may remove them, no other writer being at work."""
    return sorted(p for p in folder.glob(".*.part") if PART.fullmatch(p.name) and p.is_file())


def write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Have `write(tmp)` fill `.<name>.<random>.part` beside `path`, then rename it into place.

    An interruption (exception, Ctrl-C) removes the temporary file; a hard kill can leave
    one behind, but under a hidden `.part` name that no reader looks at. The rename is
    atomic on one file system, so `path` is either the old file or the whole new one, with
    the permissions a plain `open` would give it now (0666 less the process's umask at the
    time of the call; not mkstemp's 0600).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.part"
    # O_EXCL: never take over an existing file; mode 0666: the kernel applies the umask.
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """`write_atomic` for bytes already in memory."""
    write_atomic(path, lambda tmp: tmp.write_bytes(data))


def save_torch(obj: object, path: Path) -> None:
    """`torch.save(obj)` into `path`, serialised in memory first and then written by Python,
    so that a full disk is an OSError (ENOSPC): torch's own writer turns a failed write
    into a RuntimeError about positions. It holds the file's bytes once more meanwhile."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with open(path, "wb") as f:
        f.write(buffer.getbuffer())
