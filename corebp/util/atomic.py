"""Writing a file so that no reader ever sees half of it: temporary name, fsync, rename."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path


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
