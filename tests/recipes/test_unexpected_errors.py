"""An unexpected exception is one line saying it is a bug and where its traceback is, exit 1."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from corebp.cli import main as cli


def test_an_unexpected_exception_prints_one_line_saves_the_traceback_and_exits_1(
    monkeypatch, capsys, tmp_path
):
    def broken():
        raise ZeroDivisionError("boom")

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.delenv("COREBP_DEBUG", raising=False)
    monkeypatch.setattr("tempfile.tempdir", None)
    monkeypatch.setattr(cli, "build", lambda: broken)
    with pytest.raises(SystemExit) as e:
        cli.main()
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("corebp: internal error (ZeroDivisionError: boom); this is a bug")
    saved = Path(re.search(r"saved in (\S+)$", err.strip()).group(1))
    assert saved.parent == tmp_path and "ZeroDivisionError: boom" in saved.read_text()
    assert "in broken" in saved.read_text()


def test_with_debug_the_traceback_is_shown(monkeypatch):
    monkeypatch.setenv("COREBP_DEBUG", "1")
    monkeypatch.setattr(cli, "build", lambda: lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        cli.main()
