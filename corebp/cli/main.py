"""Entry point of the `corebp` command: mounts one module per subcommand."""

from __future__ import annotations

import os
import sys
import warnings

import typer

from corebp.cli import check, data, plugins, recipes, run, show, validate
from corebp.errors import CorebpError

app = typer.Typer(
    name="corebp",
    help="corebp: neural networks with hand-written backward passes.\n\n"
    "Run recipes, validate them, check gradients, list plugins, show components and fetch data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _options(
    strict_plugins: bool = typer.Option(
        False,
        "--strict-plugins",
        help="Fail when a plugin cannot be loaded (also: COREBP_STRICT_PLUGINS=1).",
    ),
) -> None:
    if strict_plugins:
        os.environ["COREBP_STRICT_PLUGINS"] = "1"


app.command("run")(run.command)
app.command("validate")(validate.command)
app.command("recipes")(recipes.command)
app.command("plugins")(plugins.command)
app.command("check")(check.command)
app.command("show")(show.command)
app.add_typer(data.app, name="data")


def _format_warning(message, category, filename, lineno, line=None) -> str:
    return f"corebp: warning: {message}\n"


def main() -> None:
    warnings.formatwarning = _format_warning
    try:
        app()
    except CorebpError as e:
        print(f"corebp: error: {e}", file=sys.stderr)
        sys.exit(2)
