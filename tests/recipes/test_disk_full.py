"""A full disk (reliability II, class 6): one line naming the file and "No space left on
device", exit 2, summary.json saying `failed` where it can be written, no half-written file,
and the run resumable once there is room. The disk fills either for real (a small tmpfs the
test mounts, when it runs as root) or by an injected ENOSPC (everywhere)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from corebp.cli import main as cli
from corebp.util import atomic
from tests.recipes.test_resume import RECIPE, assert_same_run

FULL = os.strerror(errno.ENOSPC)  # "No space left on device"


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "resumable.yaml"
    path.write_text(RECIPE)
    return path


def _cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["corebp", *args])
    with pytest.raises(SystemExit) as e:
        cli.main()
    return e.value.code, capsys.readouterr().err  # type: ignore[return-value]


def _fill_on(monkeypatch, name: str, after: int = 0) -> None:
    """The disk is full for `name` from its (after + 1)-th write on: fsync of its temporary
    file fails with ENOSPC, as on a file system that allocates late."""
    fsync, seen = os.fsync, []

    def full(fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        if Path(path).name.startswith(f".{name}."):
            seen.append(path)
            if len(seen) > after:
                raise OSError(errno.ENOSPC, FULL)
        fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", full)


def _one_line(code: int, err: str, path: Path) -> None:
    assert code == 2, err
    # What every run says before it fails (where it writes, then its progress) is not the error.
    said = [line for line in err.splitlines() if not line.startswith(("run directory: ", "epoch "))]
    assert len(said) == 1 and said[0].startswith(f"corebp: error: {path}: cannot write"), err
    assert FULL in err and "corebp resume" in err, err
    assert "Traceback" not in err and "internal error" not in err, err


@pytest.mark.parametrize(
    ("name", "after"),
    [("checkpoint.pt", 1), ("metrics.jsonl", 0), ("summary.json", 2)],
    ids=["a checkpoint", "a metrics row", "the summary"],
)
def test_a_full_disk_stops_the_run_in_one_line_and_it_resumes_exactly(
    name, after, recipe, tmp_path, private_tmp, monkeypatch, capsys
):
    out = tmp_path / "run"
    with monkeypatch.context() as m:
        _fill_on(m, name, after)
        code, err = _cli(m, capsys, "run", str(recipe), "-o", str(out))
    _one_line(code, err, out / name)
    assert not atomic.leftovers(out)  # nothing half-written
    assert not list(private_tmp.iterdir())  # no traceback file
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == ("failed" if name != "summary.json" else "running")
    if name != "summary.json":
        assert FULL in summary["error"]

    # room again: the run continues from its last checkpoint, as if it had not stopped
    code, err = _cli(monkeypatch, capsys, "resume", str(out))
    assert code == 0, err
    whole = tmp_path / "whole"
    assert _cli(monkeypatch, capsys, "run", str(recipe), "-o", str(whole))[0] == 0
    assert_same_run(out, whole)


def test_a_full_disk_stops_export_in_one_line(tmp_path, recipe, private_tmp, monkeypatch, capsys):
    out = tmp_path / "run"
    assert _cli(monkeypatch, capsys, "run", str(recipe), "-o", str(out))[0] == 0
    _fill_on(monkeypatch, "model.pt")
    code, err = _cli(monkeypatch, capsys, "export", str(out))
    assert code == 2 and err.count("\n") == 1, err
    assert f"cannot write {out / 'model.pt'}" in err and FULL in err, err
    assert not (out / "model.pt").exists() and not atomic.leftovers(out)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs, mounted for the test (where root may mount)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root; the injected-ENOSPC tests cover the rest")
    mount = tmp_path / "disk"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:  # a container without the right to mount, even as root
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()[:200]})")
    yield mount
    subprocess.run(["umount", "--lazy", str(mount)], check=True)  # even with a file open


def test_a_really_full_disk_is_one_line_and_leaves_no_part_file(
    small_disk, tmp_path, private_tmp, monkeypatch, capsys
):
    # 2 × 20000 + 20000 × 16 weights and their momentum: a checkpoint of about 3 MB
    big = RECIPE.replace(
        "out_features: 16, init: xavier}\n  - {type: relu}",
        "out_features: 20000}\n  - {type: relu}",
        1,
    )
    big = big.replace("in_features: 16, out_features: 16", "in_features: 20000, out_features: 16")
    path = tmp_path / "big.yaml"
    path.write_text(big)
    out = small_disk / "run"
    code, err = _cli(monkeypatch, capsys, "run", str(path), "-o", str(out))
    _one_line(code, err, out / "checkpoint.pt")
    assert not atomic.leftovers(out)
    assert json.loads((out / "summary.json").read_text())["status"] == "failed"
