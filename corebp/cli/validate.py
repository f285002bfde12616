"""`corebp validate`: check a recipe (with overrides) without training."""

from __future__ import annotations

from typing import Annotated

import typer

from corebp.errors import ConfigError
from corebp.plugins import registry
from corebp.recipe.shipped import DEFAULT_RECIPE


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
    """Check a recipe as `run` does before it writes anything: schema, registered names,
    component arguments; then build its data source and model and push one example through.

    Every problem is reported at once (dotted key, bad value, what was expected, nearest
    valid name) and the exit code is 2. Nothing is trained and no file is written. Under
    torchrun it also checks that the recipe can train data-parallel over that many processes.

    Examples:

      corebp validate mnist-784-100-10

      corebp validate my-recipe.yaml optimizer.lr=0.05 train.epochs=1
    """
    from corebp.recipe import load_recipe
    from corebp.training.distributed import problems, world_size
    from corebp.training.trainer import Trainer

    loaded = load_recipe(recipe, list(overrides or []))
    found = problems(loaded.recipe, world_size())
    if found:
        raise ConfigError(found[0])
    trainer = Trainer(loaded, registry(), progress="log")
    typer.echo(f"{loaded.name}: valid ({loaded.path})")
    typer.echo(f"model: {trainer.model!r}")
    typer.echo(
        f"loss: {trainer.loss!r}; optimizer: {trainer.optimizer!r}; "
        f"learning rule: {trainer.learning_rule!r}; "
        f"data: {loaded.recipe.data.source}"
    )
