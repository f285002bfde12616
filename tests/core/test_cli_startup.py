"""`corebp` starts at once: building the command, its help, `--version` and shell completion
import neither torch nor matplotlib; the help fits 80 columns. (What this takes in seconds is
measured by benchmarks/bench_startup.py, not tested.)"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import inspect
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from corebp.cli import main

#: The `corebp` script of this environment (completion is keyed to the program's name).
COREBP = str(Path(sys.executable).with_name("corebp"))
HEAVY = ("torch", "matplotlib")

#: Runs `corebp` once per argument list in one fresh interpreter, and reports for each the
#: heavy modules it had imported by then.
CHILD = """
import json, os, sys
from corebp.cli.main import main

found = {}
for argv in json.loads(sys.argv[1]):
    if argv[0] == "complete":  # what the shell runs at each Tab
        os.environ.update(_COREBP_COMPLETE="complete_bash", COMP_WORDS=argv[1], COMP_CWORD="1")
        argv = []
    sys.argv = ["corebp", *argv]
    try:
        main()
    except SystemExit:
        pass
    os.environ.pop("_COREBP_COMPLETE", None)
    found[" ".join(sys.argv[1:]) or "(completion)"] = [m for m in HEAVY if m in sys.modules]
print("\\nRESULT " + json.dumps(found))
""".replace("HEAVY", repr(HEAVY))


def _commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of the `corebp` command, sub-groups (plugins' `data`) included."""
    found = []
    for name, command in group.commands.items():
        found.append((*path, name))
        if hasattr(command, "commands"):
            found += _commands(command, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(main.build()))


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COREBP_PLUGINS", "COLUMNS")}
    return {**env, "COLUMNS": "80"}


def test_help_version_and_completion_import_neither_torch_nor_matplotlib():
    argvs = [["--help"], ["--version"], *([*c, "--help"] for c in COMMANDS)]
    argvs.append(["complete", "corebp da"])
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(argvs)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout.rpartition("\nRESULT ")[2])
    assert len(found) == len(argvs)
    heavy = {argv: modules for argv, modules in found.items() if modules}
    assert not heavy, (
        f"imported at start: {heavy}; see which module imports them with "
        "`python -X importtime -m corebp --help`"
    )
    assert "data" in proc.stdout  # the data plugin's command is listed, without torch


def test_plugin_packages_and_corebp_give_every_public_name_on_first_use():
    packages = ["corebp", "corebp.recipe"]
    packages += sorted(ep.value for ep in md.entry_points(group="corebp"))
    for name in packages:
        package = importlib.import_module(name)
        for attribute in getattr(package, "__all__", []):
            assert getattr(package, attribute) is not None, f"{name}.{attribute}"
            assert attribute in dir(package), f"{name}.{attribute}"
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        importlib.import_module("corebp").Nope  # noqa: B018


def test_version_prints_the_installed_distributions_version():
    result = CliRunner().invoke(main.build(), ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"corebp {md.version('corebp')}\n"


def test_shell_completion_is_offered_and_completes_core_and_plugin_commands():
    env = {**_env(), "_COREBP_COMPLETE": "complete_bash", "COMP_CWORD": "1"}
    help_text = CliRunner().invoke(main.build(), ["--help"]).output
    assert "--install-completion" in help_text and "--show-completion" in help_text
    # The shell named, not guessed from the processes above the test (which may be no shell).
    script = subprocess.run(
        [COREBP, "--show-completion", "bash"],
        capture_output=True,
        text=True,
        env={**_env(), "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"},
    )
    assert script.returncode == 0 and "_COREBP_COMPLETE=complete_bash" in script.stdout
    for typed, expected in (("corebp ru", "run"), ("corebp da", "data")):
        done = subprocess.run(
            [COREBP],
            capture_output=True,
            text=True,
            env={**env, "COMP_WORDS": typed},
        )
        assert done.stdout.split() == [expected], done.stderr


@pytest.mark.parametrize("command", [(), *COMMANDS], ids=lambda c: " ".join(c) or "corebp")
def test_help_fits_80_columns_and_shows_each_example_line_whole(command):
    result = CliRunner().invoke(main.build(), [*command, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(map(len, lines)) <= 80
    shown = {line.strip() for line in lines}
    shown_command: Any = typer.main.get_command(main.build())
    for name in command:
        shown_command = shown_command.commands[name]
    doc = inspect.cleandoc(shown_command.help or "")
    examples = set(filter(None, map(str.strip, doc.partition("Examples:")[2].splitlines())))
    for example in examples:
        assert example in shown, f"{example!r} is broken over lines in:\n{result.output}"
    # Prose is wrapped to the terminal, not at the docstring's own line breaks: no line ends
    # where the next line's first word would still have fitted (78 columns inside the margins).
    prose = [line.strip() for line in lines[: next(i for i, t in enumerate(lines) if "╭" in t)]]
    for line, after in itertools.pairwise(prose):
        if line and after and not {line, after} & examples:
            word = after.split()[0]
            assert len(line) + 1 + len(word) > 78, f"{line!r} ends before {word!r}"
