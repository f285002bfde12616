"""`corebp data fetch`: what it prints, and that its errors carry the fix."""

from __future__ import annotations

import pytest
from corebp_data import catalog
from typer.testing import CliRunner

from corebp.cli import main
from corebp.errors import DataError

app = main.build()  # the `corebp` command, with the data plugin's `data` subcommand


@pytest.fixture
def only_tiny(tiny, monkeypatch):
    monkeypatch.setattr(catalog, "catalog", lambda: {"tiny": tiny})


def test_fetch_prints_location_and_md5s(only_tiny, tiny, tmp_path):
    result = CliRunner().invoke(app, ["data", "fetch", "tiny", "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"Tiny in {tmp_path / 'Tiny' / 'raw'}" in result.output
    for f in tiny.files:
        assert f"{f.md5}  {f.name}  (rebuilt from the test fallback)" in result.output


def test_fetch_of_corrupt_file_fails_until_force(only_tiny, tmp_path):
    runner = CliRunner()
    runner.invoke(app, ["data", "fetch", "tiny", "--root", str(tmp_path)])
    (tmp_path / "Tiny" / "raw" / "train-labels-idx1-ubyte").write_bytes(b"\0")
    result = runner.invoke(app, ["data", "fetch", "tiny", "--root", str(tmp_path)])
    assert isinstance(result.exception, DataError)
    assert "--force" in str(result.exception)
    result = runner.invoke(app, ["data", "fetch", "tiny", "--root", str(tmp_path), "--force"])
    assert result.exit_code == 0, result.output


def test_fetch_help_has_examples():
    result = CliRunner().invoke(app, ["data", "fetch", "--help"])
    assert "corebp data fetch mnist --root ./data" in result.output


def test_the_data_command_comes_from_the_data_plugin(monkeypatch):
    monkeypatch.setenv("COREBP_PLUGINS", "optim")
    result = CliRunner().invoke(main.build(), ["data", "fetch", "--help"])
    assert result.exit_code != 0 and "No such command 'data'" in result.output
