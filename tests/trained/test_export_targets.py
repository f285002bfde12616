"""Where `corebp export -o` may write (reliability II, class 4): a new path or a regular file,
replaced whole; anything else is refused before anything is built, exit 2, one line naming
the path and the fix, and what was there stays as it was."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from corebp.util import atomic


def _refused(code: int, err: str, *names: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("corebp: error: --output: "), err
    assert all(name in err for name in names), err
    assert "Traceback" not in err and "internal error" not in err, err


def _snapshot(root: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every path under `root` with its file type, and a regular file's bytes."""
    return {
        str(p): (stat.S_IFMT(p.lstat().st_mode), p.read_bytes() if p.is_file() else None)
        for p in [root, *root.rglob("*")]
    }


def test_an_existing_directory_is_refused(synthetic_run, tmp_path, private_tmp, corebp_cli):
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("x")
    before = _snapshot(target)
    code, _, err = corebp_cli("export", str(synthetic_run), "-o", str(target))
    _refused(code, err, str(target), "is a directory", str(target / "model.pt"))
    assert _snapshot(target) == before
    assert not list(private_tmp.iterdir())


def test_a_path_under_a_file_is_refused(synthetic_run, tmp_path, private_tmp, corebp_cli):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = corebp_cli("export", str(synthetic_run), "-o", str(blocker / "a" / "m.pt"))
    _refused(code, err, str(blocker / "a" / "m.pt"), f"under {blocker}, which is a file")
    assert blocker.read_text() == "x"
    assert not list(private_tmp.iterdir())


def test_a_pipe_is_refused_not_replaced(synthetic_run, tmp_path, private_tmp, corebp_cli):
    # what /dev/null would be: a node that is not a regular file (a pipe, to stay harmless)
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    code, _, err = corebp_cli("export", str(synthetic_run), "-o", str(pipe))
    _refused(code, err, str(pipe), "not a regular file")
    assert stat.S_ISFIFO(pipe.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe", "tmp"]


def test_a_name_too_long_is_refused(synthetic_run, tmp_path, private_tmp, corebp_cli):
    target = tmp_path / ("m" * 300 + ".pt")
    code, _, err = corebp_cli("export", str(synthetic_run), "-o", str(target))
    _refused(code, err, "cannot write", "File name too long")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"]


def test_a_folder_it_may_not_write_in_is_refused(
    synthetic_run, tmp_path, private_tmp, corebp_cli, monkeypatch
):
    # what an unwritable folder gives (as root, chmod alone would not stop the write)
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic.os, "open", denied)
    target = tmp_path / "model.pt"
    code, _, err = corebp_cli("export", str(synthetic_run), "-o", str(target))
    _refused(code, err, f"cannot write {target}", "Permission denied")
    assert not target.exists()


def test_a_regular_file_is_replaced_whole(synthetic_run, tmp_path, corebp_cli):
    target = tmp_path / "model.pt"
    target.write_text("old")
    code, _, err = corebp_cli("export", str(synthetic_run), "-o", str(target))
    assert code == 0, err
    assert target.read_bytes()[:2] == b"PK"  # a torch zip archive, not the old text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]
