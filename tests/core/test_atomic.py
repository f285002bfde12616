"""corebp.util.atomic: whole files or none, with the permissions a plain open() gives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from corebp.util.atomic import write_atomic, write_bytes_atomic


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002], ids=lambda u: f"umask={u:03o}")
def test_written_file_gets_the_current_umask_permissions_not_mkstemps_0600(
    tmp_path: Path, umask: int
):
    """Whatever umask the tests run under, and whatever it was when corebp was imported."""
    old = os.umask(umask)
    try:
        write_bytes_atomic(tmp_path / "a.bin", b"abc")
    finally:
        os.umask(old)
    assert (tmp_path / "a.bin").read_bytes() == b"abc"
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_umask_set_after_import_is_the_one_applied(tmp_path: Path):
    script = (
        "import os, sys; from pathlib import Path; "
        "from corebp.util.atomic import write_bytes_atomic; "
        "os.umask(0o022); p = Path(sys.argv[1]); write_bytes_atomic(p, b'x'); "
        "print(oct(p.stat().st_mode & 0o777))"
    )
    out = subprocess.run(
        ["sh", "-c", 'umask 077 && exec "$0" -c "$1" "$2"', sys.executable, script,
         str(tmp_path / "b.bin")],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert out.strip() == "0o644"


def test_failed_write_leaves_neither_target_nor_temporary(tmp_path: Path):
    def half(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "b.bin", half)
    assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_the_old_file_whole(tmp_path: Path):
    def fail(tmp: Path) -> None:
        tmp.write_bytes(b"ne")
        raise OSError("disk full")

    write_bytes_atomic(tmp_path / "c.txt", b"old")
    with pytest.raises(OSError, match="disk full"):
        write_atomic(tmp_path / "c.txt", fail)
    assert list(tmp_path.iterdir()) == [tmp_path / "c.txt"]
    assert (tmp_path / "c.txt").read_bytes() == b"old"
