"""Recipes: YAML files that describe a whole training run, validated before anything runs.

The names below are imported on first use: `corebp --help` reads `DEFAULT_RECIPE` from
`corebp.recipe.shipped` without importing the loader (and, through it, torch).
"""

from typing import TYPE_CHECKING

from corebp.util.lazy import lazy_attributes

if TYPE_CHECKING:
    from corebp.recipe.load import LoadedRecipe, load_recipe
    from corebp.recipe.schema import Recipe
    from corebp.recipe.shipped import DEFAULT_RECIPE, find_recipe, shipped_recipes

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "corebp.recipe.load": ["LoadedRecipe", "load_recipe"],
        "corebp.recipe.schema": ["Recipe"],
        "corebp.recipe.shipped": ["DEFAULT_RECIPE", "find_recipe", "shipped_recipes"],
    },
)

__all__ = [
    "DEFAULT_RECIPE",
    "LoadedRecipe",
    "Recipe",
    "find_recipe",
    "load_recipe",
    "shipped_recipes",
]
