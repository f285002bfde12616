"""`corebp recipes`: list the shipped recipes with their one-line descriptions."""

from __future__ import annotations

import typer

from corebp.recipe.shipped import DEFAULT_RECIPE, description, recipes_dir, shipped_recipes


def command() -> None:
    """List the recipes shipped with corebp, each with its one-line description.

    Examples:

      corebp recipes

      corebp run mnist-784-100-10-tuned      # run one of them by name
    """
    shipped = shipped_recipes()
    width = max(map(len, shipped), default=0)
    for name, path in shipped.items():
        mark = " (default)" if name == DEFAULT_RECIPE else ""
        typer.echo(f"{name.ljust(width)}  {description(path)}{mark}")
    typer.echo(f"\n{len(shipped)} recipes in {recipes_dir()}; run one with `corebp run NAME`.")
