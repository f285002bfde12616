"""`corebp plugins`: the listing, --json, a broken plugin (exit 0) and strict mode (exit != 0)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from corebp.cli.plugins import command
from corebp.errors import PluginError

MakePlugin = Callable[[str, str], Path]  # the `make_plugin` fixture of conftest.py
BROKEN_MESSAGE = (
    "plugin 'broken' from corebp-test-broken (corebp_test_broken) failed to load: "
    "RuntimeError: boom at import"
)


def _invoke(*args: str):
    app = typer.Typer()
    app.command("plugins")(command)
    app.callback()(lambda: None)  # keep "plugins" a subcommand, as under `corebp`
    return CliRunner().invoke(app, ["plugins", *args])


def test_listing_names_plugins_hooks_and_components() -> None:
    result = _invoke()
    assert result.exit_code == 0, result.output
    assert "optim 0.1.0  from corebp (corebp_optim)" in result.output
    assert "hooks:        corebp_register_optimizers, corebp_register_schedules" in result.output
    assert "optimizers:   adam, adamw, sgd" in result.output
    assert "accuracy" in result.output


def test_json_lists_every_plugin_with_components_by_kind() -> None:
    result = _invoke("--json")
    assert result.exit_code == 0, result.output
    plugins = {p["name"]: p for p in json.loads(result.output)}
    assert {"core", "optim", "metrics"} <= set(plugins)
    assert plugins["optim"]["components"]["optimizers"] == ["adam", "adamw", "sgd"]
    assert "accuracy" in plugins["metrics"]["components"]["metrics"]
    assert plugins["optim"]["hooks"] == ["corebp_register_optimizers", "corebp_register_schedules"]
    assert plugins["optim"]["error"] is None
    assert plugins["optim"]["location"].endswith("__init__.py")


def test_a_broken_plugin_is_listed_with_its_error_and_the_command_succeeds(
    make_plugin: MakePlugin,
) -> None:
    make_plugin("broken", "raise RuntimeError('boom at import')\n")
    result = _invoke()
    assert result.exit_code == 0, result.output
    assert f"BROKEN: {BROKEN_MESSAGE}" in result.output
    assert "optimizers:   adam, adamw, sgd" in result.output


def test_strict_mode_fails_on_a_broken_plugin_with_the_same_message(
    make_plugin: MakePlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_plugin("broken", "raise RuntimeError('boom at import')\n")
    monkeypatch.setenv("COREBP_STRICT_PLUGINS", "1")
    result = _invoke()
    assert result.exit_code != 0
    assert isinstance(result.exception, PluginError)
    assert str(result.exception).startswith(BROKEN_MESSAGE)


@pytest.mark.parametrize("strict", [False, True])
def test_corebp_plugins_command_line_exit_codes_with_a_broken_plugin(
    make_plugin: MakePlugin, strict: bool
) -> None:
    folder = make_plugin("broken", "raise RuntimeError('boom at import')\n")
    env = {k: v for k, v in os.environ.items() if k != "COREBP_STRICT_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join([str(folder), env.get("PYTHONPATH", "")])
    flags = ["--strict-plugins"] if strict else []
    done = subprocess.run(
        [sys.executable, "-m", "corebp", *flags, "plugins"], env=env, capture_output=True, text=True
    )
    if strict:
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"corebp: error: {BROKEN_MESSAGE}" in done.stderr
    else:
        assert done.returncode == 0, done.stderr
        assert BROKEN_MESSAGE in done.stdout
