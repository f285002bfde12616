"""`corebp eval`: evaluate a finished run's checkpoint again, with the run's own metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

SPLITS = ("test", "val", "train")


def command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `corebp run`.")],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(
            help="dotted.key=value overrides of the run's recipe, e.g. train.device=cpu "
            "data.root=/data."
        ),
    ] = None,
    split: Annotated[str, typer.Option(help="test, val or train.")] = "test",
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Rebuild a run's model from its recipe.yaml, load its checkpoint.pt and evaluate it.

    The checkpoint is read with torch.load(weights_only=True) only: one holding any other
    pickled object is refused. The data, batch size and metrics are the recipe's, so the
    numbers equal the run's summary.json for the same split and device. Only what the run
    held out is evaluated as held out: --split val needs a run trained with a validation
    split, and an override may not change data.source, data.validation_split or train.seed.

    Examples:

      corebp eval runs/mnist-784-100-10-tuned-20260101-120000

      corebp eval runs/my-run --split train --json

      corebp eval runs/my-run train.device=cpu
    """
    from corebp.inference.trained import evaluate, open_run

    if split not in SPLITS:
        raise typer.BadParameter(f"{split!r}; expected one of: {', '.join(SPLITS)}.")
    run = open_run(run_dir, list(overrides or []))
    metrics = evaluate(run, split)
    if as_json:
        typer.echo(json.dumps({"run": str(run_dir), "split": split, "metrics": metrics}, indent=2))
        return
    typer.echo(f"{run.loaded.name} ({run_dir}), split {split}:")
    if not metrics:
        typer.echo("  (none: the recipe lists no metrics)")
    width = max((len(k) for k in metrics), default=0)
    for key, value in metrics.items():
        typer.echo(f"  {key:<{width}}  {json.dumps(value)}")
