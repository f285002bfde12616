"""`corebp resume`: continue an interrupted run in its own directory, exactly."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from corebp.cli.run import echo_note, report

if TYPE_CHECKING:
    from corebp.training.trainer import Trainer


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
    from corebp.training.assemble import resolve_device
    from corebp.training.distributed import launched
    from corebp.training.run import load_run_recipe, resume_run

    if progress not in (None, "auto", "bar", "log"):
        raise typer.BadParameter(
            f"{progress!r}; expected auto, bar or log.", param_hint="--progress"
        )
    items = list(overrides or [])
    recipe = load_run_recipe(run_dir, items).recipe
    with launched(recipe, resolve_device(recipe.train.device)) as parallel:
        path, summary = resume_run(run_dir, items, progress, parallel=parallel, on_start=announce)
    if parallel is None or parallel.writes:
        report(summary["recipe"], path, summary)


def announce(path: Path, trainer: Trainer) -> None:
    """What a resume says on stderr before it trains: where it continues, and the recipe's
    `note`."""
    epochs, done = trainer.recipe.train.epochs, len(trainer.history)
    position = trainer.step - done * trainer.steps_per_epoch
    if done == epochs:
        where = f"all {epochs} epochs done"
    elif position == 0:
        where = f"the start of epoch {done + 1} of {epochs}"
    else:
        steps = trainer.steps_per_epoch
        where = f"epoch {done + 1} of {epochs}, {position} of its {steps} steps done"
    typer.echo(
        f"resuming {path} from step {trainer.step} of {trainer.total_steps} ({where})", err=True
    )
    echo_note(trainer.recipe.note)
