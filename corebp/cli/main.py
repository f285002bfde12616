"""Entry point of the `corebp` command."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="corebp",
    help="corebp: run recipes, check gradients, list plugins, fetch data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def main() -> None:
    app()
