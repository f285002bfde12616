"""Entry point of the `corebp` command: one module per core subcommand, plus those plugins add
through `corebp_register_commands(cli)`.

Building the command imports neither torch nor matplotlib (tests/core/test_cli_startup.py):
the subcommand modules import what they run inside their functions, and the plugins are
loaded for their commands only, so `corebp --help` and `corebp --version` answer at once.
"""

from __future__ import annotations

import inspect
import os
import sys
import tempfile
import traceback
import warnings

import typer

import corebp
from corebp.cli import (
    check,
    export,
    plugins,
    predict,
    recipes,
    resume,
    run,
    show,
    sweep,
    validate,
)
from corebp.cli import eval as eval_
from corebp.errors import CorebpError, Diverged, Interrupted
from corebp.plugins import load_registry
from corebp.util.env import env_flag


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"corebp {corebp.__version__}")
        raise typer.Exit()


def _options(
    strict_plugins: bool = typer.Option(
        False,
        "--strict-plugins",
        help="Fail when a plugin cannot be loaded (also: COREBP_STRICT_PLUGINS=1).",
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback of an error (also: COREBP_DEBUG=1)."
    ),
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print corebp's version and exit.",
    ),
) -> None:
    if strict_plugins:
        os.environ["COREBP_STRICT_PLUGINS"] = "1"
    if debug:
        os.environ["COREBP_DEBUG"] = "1"


def build() -> typer.Typer:
    """The `corebp` command: the core's subcommands, then every plugin's."""
    app = typer.Typer(
        name="corebp",
        help="corebp: neural networks with hand-written backward passes.\n\n"
        "Run recipes, validate them, check gradients, list plugins and show components, and "
        "evaluate, predict with or export a finished run; plugins add more "
        "commands (the data plugin: `corebp data fetch`).",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_options)
    app.command("run")(run.command)
    app.command("resume")(resume.command)
    app.command("validate")(validate.command)
    app.command("recipes")(recipes.command)
    app.command("plugins")(plugins.command)
    app.command("check")(check.command)
    app.command("eval")(eval_.command)
    app.command("predict")(predict.command)
    app.command("export")(export.command)
    app.command("show")(show.command)
    app.command("sweep")(sweep.command)
    with warnings.catch_warnings():
        # A plugin that fails to load is reported when a command loads the registry.
        warnings.simplefilter("ignore", RuntimeWarning)
        reg = load_registry(strict=False, components=False)
    try:
        reg.pm.hook.corebp_register_commands(cli=app)
    except Exception as e:
        reg.raise_from_hook(e, reg.pm)
    _as_plain_text(app)
    return app


def _as_plain_text(app: typer.Typer) -> None:
    """Give every command's help (plugins' too) to typer as plain text that wraps to the
    terminal: typer's rich help keeps a docstring's line breaks (written for the source, not
    for an 80-column terminal) and reads `[...]` as markup (`corebp[onnx]`)."""
    for command in app.registered_commands:
        doc = command.help or inspect.getdoc(command.callback) or ""
        command.help = _reflowed(doc).replace("[", "\\[")
    for group in app.registered_groups:
        if group.typer_instance is not None:
            _as_plain_text(group.typer_instance)


def _reflowed(doc: str) -> str:
    """`doc` with each prose paragraph on one line; an indented paragraph (an example) keeps
    its lines."""
    paragraphs = inspect.cleandoc(doc).split("\n\n")
    return "\n\n".join(p if p.startswith(" ") else " ".join(p.split()) for p in paragraphs)


def _format_warning(message, category, filename, lineno, line=None) -> str:
    return f"corebp: warning: {message}\n"


def main() -> None:
    warnings.formatwarning = _format_warning
    try:
        build()()
    except Diverged as e:
        print(f"corebp: {e}", file=sys.stderr)
        sys.exit(3)
    except CorebpError as e:
        if env_flag("COREBP_DEBUG"):
            traceback.print_exception(e)
        print(f"corebp: error: {e}", file=sys.stderr)
        sys.exit(2)
    except Interrupted as e:
        print(f"corebp: {e}", file=sys.stderr)
        sys.exit(128 + e.signum)
    except KeyboardInterrupt:
        print("corebp: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as e:
        if env_flag("COREBP_DEBUG"):
            raise
        first = (str(e).splitlines() or [""])[0]
        fd, saved = tempfile.mkstemp(prefix="corebp-traceback-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            traceback.print_exception(e, file=f)
        print(
            f"corebp: internal error ({type(e).__name__}: {first[:200]}); this is a bug in "
            f"corebp or a plugin, please report it with the traceback saved in {saved}",
            file=sys.stderr,
        )
        sys.exit(1)
