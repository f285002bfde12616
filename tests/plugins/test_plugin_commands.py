"""Plugins add `corebp` subcommands through `corebp_register_commands(cli)`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corebp.cli import main
from corebp.errors import PluginError

MakePlugin = Callable[[str, str], Path]  # the `make_plugin` fixture of conftest.py


def test_a_plugin_adds_a_subcommand_to_corebp(make_plugin: MakePlugin):
    make_plugin(
        "hello",
        """
        import corebp

        def hello(name: str) -> None:
            print(f"hello {name}")

        @corebp.hookimpl
        def corebp_register_commands(cli):
            cli.command("hello")(hello)
        """,
    )
    result = CliRunner().invoke(main.build(), ["hello", "world"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello world\n"


def test_a_raising_command_hook_names_the_plugin(make_plugin: MakePlugin):
    make_plugin(
        "badcli",
        """
        import corebp

        @corebp.hookimpl
        def corebp_register_commands(cli):
            raise ValueError("no commands today")
        """,
    )
    with pytest.raises(
        PluginError,
        match=r"^plugin 'badcli' from corebp-test-badcli \(corebp_test_badcli\) failed in hook "
        r"corebp_register_commands: ValueError: no commands today",
    ):
        main.build()
