"""corebp.atomic: whole files or none, with the permissions a plain open() gives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from corebp.atomic import write_atomic, write_bytes_atomic


def test_written_file_gets_umask_permissions_not_mkstemps_0600(tmp_path: Path):
    old = os.umask(0o022)
    try:
        write_bytes_atomic(tmp_path / "a.bin", b"abc")
    finally:
        os.umask(old)
    assert (tmp_path / "a.bin").read_bytes() == b"abc"
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o644


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
