"""Writing a file so that no reader ever sees half of it: temporary name, fsync, rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

PART_SUFFIX = ".part"
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through `.<name>.<random>.part` beside it, then `os.replace`.

    An interruption (exception, Ctrl-C) removes the temporary file; a hard kill can leave
    one behind, but under a hidden `.part` name that no reader looks at. The rename is
    atomic on one file system, so `path` is either the old file or all of `data`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PART_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            os.fchmod(f.fileno(), 0o666 & ~_UMASK)  # mkstemp's 0600 would hide shared data
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
