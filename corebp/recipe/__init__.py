"""Recipes: YAML files that describe a whole training run, validated before anything runs."""

from corebp.recipe.load import LoadedRecipe, load_recipe
from corebp.recipe.schema import Recipe
from corebp.recipe.shipped import DEFAULT_RECIPE, find_recipe, shipped_recipes

__all__ = [
    "DEFAULT_RECIPE",
    "LoadedRecipe",
    "Recipe",
    "find_recipe",
    "load_recipe",
    "shipped_recipes",
]
