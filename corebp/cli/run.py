"""`corebp run`: train a recipe and write its run directory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from corebp.recipe.shipped import DEFAULT_RECIPE

if TYPE_CHECKING:
    from corebp.training.trainer import Trainer


def command(
    recipe: Annotated[
        str | None,
        typer.Argument(
            help=f"A shipped recipe's name (see `corebp recipes`) or a .yaml path; "
            f"default: {DEFAULT_RECIPE}.",
            show_default=False,
        ),
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="dotted.key=value overrides, e.g. optimizer.lr=0.05 train.epochs=1."),
    ] = None,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir",
            "-o",
            help="Run directory (new or empty); default: output.dir, else "
            "runs/<recipe>-<YYYYmmdd-HHMMSS>.",
        ),
    ] = None,
    progress: Annotated[
        str | None,
        typer.Option(help="auto (bar on a terminal), bar or log; default: output.progress."),
    ] = None,
) -> None:
    """Train a recipe with explicit backward and write its run directory.

    The directory gets recipe.yaml (resolved), provenance.json, metrics.jsonl,
    summary.json, checkpoint.pt and loss/accuracy/weights PNGs. The recipe, its components
    and its data are all checked before anything is written. Launched by torchrun with
    more than one process, it trains data-parallel (docs/distributed.md).

    Examples:

      corebp run                # the notebook recipe, mnist-784-100-10

      corebp run mnist-784-100-10 --output-dir runs/nb

      corebp run mnist-784-100-10 train.seed=3 train.epochs=1 optimizer.lr=0.05

      corebp run mnist-784-100-10 train.dtype=float64 checks.autograd.twin=true

      corebp run mnist-784-100-10-tuned train.seed=1

      corebp run my-recipe.yaml data.batch_size=64

      torchrun --standalone --nproc_per_node=2 \\
        -m corebp run mnist-784-100-10-tuned
    """
    from corebp.recipe import load_recipe
    from corebp.training.assemble import resolve_device
    from corebp.training.distributed import launched
    from corebp.training.run import run_recipe

    items = list(overrides or [])
    if recipe is not None and "=" in recipe:  # only overrides were given
        items.insert(0, recipe)
        recipe = None
    loaded = load_recipe(recipe or DEFAULT_RECIPE, items)
    if progress not in (None, "auto", "bar", "log"):
        raise typer.BadParameter(
            f"{progress!r}; expected auto, bar or log.", param_hint="--progress"
        )
    with launched(loaded.recipe, resolve_device(loaded.recipe.train.device)) as parallel:
        path, summary = run_recipe(
            loaded, output_dir, progress, parallel=parallel, on_start=announce
        )
    if parallel is None or parallel.writes:
        report(loaded.name, path, summary)


def announce(path: Path, trainer: Trainer) -> None:
    """What a run says on stderr before it trains: its directory, and the recipe's `note`."""
    typer.echo(f"run directory: {path}", err=True)
    echo_note(trainer.recipe.note)


def echo_note(note: str | None) -> None:
    """The recipe's `note` on stderr, when it has one."""
    if note:
        typer.echo(f"note: {note.strip()}", err=True)


def report(name: str, path: Path, summary: dict[str, Any]) -> None:
    """Print a finished run's results and directory."""
    line = f"{name}: " + (_numbers(summary, "test_") or "trained")
    check = summary.get("autograd_check")
    if check is not None:
        verdict = (
            "passed"
            if check["passed"]
            else "differs (expected)"
            if not check["exact_gradient"]
            else "FAILED"
        )
        line += (
            f"; autograd check {verdict} over {check['steps_checked']} steps "
            f"(max rel error {check['max_rel_error']:.2e})"
        )
    twin = summary.get("torch_twin")
    if twin is not None:
        line += (
            f"; torch twin {_numbers(twin, 'test_')} "
            f"(max parameter difference {twin['max_parameter_difference']:.2e})"
        )
    typer.echo(line)
    typer.echo(f"run directory: {path}")


def _numbers(results: dict[str, Any], prefix: str) -> str:
    """The numeric entries starting with `prefix`, as "test loss 0.1234, test accuracy 91.2"."""
    return ", ".join(
        f"{k.replace('_', ' ')} {v:.4g}"
        for k, v in results.items()
        if k.startswith(prefix) and isinstance(v, (int, float))
    )
