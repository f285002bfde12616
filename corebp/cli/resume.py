"""`corebp resume`: continue an interrupted run in its own directory, exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from corebp.cli.run import report
from corebp.training.assemble import resolve_device
from corebp.training.distributed import launched
from corebp.training.run import load_run_recipe, resume_run


def command(
    run_dir: Annotated[
        Path, typer.Argument(help="The run directory to continue (as printed by `corebp run`).")
    ],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="train.epochs=N to train longer, or output.* options; nothing else."),
    ] = None,
    progress: Annotated[
        str | None,
        typer.Option(help="auto (bar on a terminal), bar or log; default: output.progress."),
    ] = None,
) -> None:
    """Continue a stopped run (Ctrl-C, SIGTERM, kill -9, crash) from its checkpoint.pt.

    Parameters, optimizer and schedule state, every random generator, the position within
    the epoch and the metrics so far are restored, so the run ends exactly as if it had
    never stopped. Only train.epochs (to extend) and output options may be changed.

    Examples:

      corebp resume runs/mnist-784-100-10-20260101-120000

      corebp resume runs/nb train.epochs=10

      torchrun --standalone --nproc_per_node=2 -m corebp resume runs/nb
    """
    if progress not in (None, "auto", "bar", "log"):
        raise typer.BadParameter(
            f"{progress!r}; expected auto, bar or log.", param_hint="--progress"
        )
    items = list(overrides or [])
    recipe = load_run_recipe(run_dir, items).recipe
    with launched(recipe, resolve_device(recipe.train.device)) as parallel:
        path, summary = resume_run(run_dir, items, progress, parallel=parallel)
    if parallel is None or parallel.writes:
        report(summary["recipe"], path, summary)
