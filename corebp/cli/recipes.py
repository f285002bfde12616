"""`corebp recipes`: list the recipes corebp and its plugins ship, with their descriptions."""

from __future__ import annotations

import typer

from corebp.recipe.shipped import DEFAULT_RECIPE, available_recipes, description, recipes_dir


def command() -> None:
    """List the recipes shipped with corebp and its plugins: name, plugin, description.

    corebp's own are listed under the plugin "core"; a plugin ships recipes through its
    corebp_recipe_files() hook. Each runs by name.

    Examples:

      corebp recipes

      corebp run mnist-784-100-10-tuned      # run one of them by name
    """
    available = available_recipes()
    width = max(map(len, available), default=0)
    plugin_width = max((len(r.plugin) for r in available.values()), default=0)
    for name, recipe in available.items():
        mark = " (default)" if name == DEFAULT_RECIPE else ""
        typer.echo(
            f"{name.ljust(width)}  {recipe.plugin.ljust(plugin_width)}  "
            f"{description(recipe.path)}{mark}"
        )
    typer.echo(
        f"\n{len(available)} recipes (corebp's in {recipes_dir()}); run one with `corebp run NAME`."
    )
