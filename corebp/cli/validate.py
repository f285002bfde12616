"""`corebp validate`: check a recipe (with overrides) without training."""

from __future__ import annotations

from typing import Annotated

import torch
import typer

from corebp.plugins import registry
from corebp.recipe import DEFAULT_RECIPE, load_recipe
from corebp.trainer import attach_learning_rule, build_model


def command(
    recipe: Annotated[
        str,
        typer.Argument(help="A shipped recipe's name (see `corebp recipes`) or a .yaml path."),
    ] = DEFAULT_RECIPE,
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="dotted.key=value overrides, checked after merging."),
    ] = None,
) -> None:
    """Check a recipe: schema, registered names, component arguments; then build its model.

    Every problem is reported at once (dotted key, bad value, what was expected, nearest
    valid name) and the exit code is 2. The data is not loaded.

    Examples:

      corebp validate mnist-784-100-10

      corebp validate my-recipe.yaml optimizer.lr=0.05 train.epochs=1
    """
    loaded = load_recipe(recipe, list(overrides or []))
    reg = registry()
    torch.manual_seed(loaded.recipe.train.seed)
    model, loss, optimizer = build_model(loaded.recipe, reg)
    rule = attach_learning_rule(loaded.recipe, reg, model)
    typer.echo(f"{loaded.name}: valid ({loaded.path})")
    typer.echo(f"model: {model!r}")
    typer.echo(
        f"loss: {loss!r}; optimizer: {optimizer!r}; learning rule: {rule!r}; "
        f"data: {loaded.recipe.data.source}"
    )
