"""`corebp sweep`: a recipe over a grid of overrides and several seeds, with a results table."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from corebp.training.sweep_limits import MAX_RUNS


def command(
    recipe: Annotated[
        str,
        typer.Argument(
            help="A shipped recipe's name (see `corebp recipes`) or a .yaml path; several, "
            "comma-separated, are one more axis of the grid."
        ),
    ],
    grid: Annotated[
        list[str] | None,
        typer.Argument(
            help="dotted.key=v1,v2 (a grid axis: one cell per value) or dotted.key=value "
            "(applies to every cell), e.g. learning_rule.type=backprop,fa train.epochs=10.",
            show_default=False,
        ),
    ] = None,
    seeds: Annotated[
        str, typer.Option(help="Seeds of every cell: a range 0-4, a list 0,2,7, or both.")
    ] = "0-4",
    launcher: Annotated[
        str | None,
        typer.Option(
            help="Where the runs go: local (processes on this machine), submitit (Slurm) "
            "or ray, or another plugin's launcher; default: local.",
            show_default=False,
        ),
    ] = None,
    launcher_config: Annotated[
        Path | None,
        typer.Option(
            help="A YAML file of launcher options (launcher: submitit, partition: gpu, ...: "
            "the options below, by name); the command line wins.",
            show_default=False,
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Runs at a time; default: 1 for local, as the cluster allows otherwise.",
            show_default=False,
        ),
    ] = None,
    cpus: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="CPUs per run, and its OMP_NUM_THREADS; default: local, CPUs ÷ jobs; 1.",
            show_default=False,
        ),
    ] = None,
    gpus: Annotated[
        float | None,
        typer.Option(min=0, help="GPUs per run (submitit, ray).", show_default=False),
    ] = None,
    mem: Annotated[
        str | None,
        typer.Option(help="Memory per run, e.g. 16G (submitit, ray).", show_default=False),
    ] = None,
    time: Annotated[
        str | None,
        typer.Option(
            help="Time limit per run: minutes, h:mm:ss or d-hh:mm:ss (submitit; default 1:00:00).",
            show_default=False,
        ),
    ] = None,
    partition: Annotated[
        str | None, typer.Option(help="Slurm partition (submitit).", show_default=False)
    ] = None,
    account: Annotated[
        str | None, typer.Option(help="Slurm account (submitit).", show_default=False)
    ] = None,
    address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster address, e.g. ray://head:10001 or auto (ray; default: a local "
            "cluster).",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print what would be submitted (for submitit, the sbatch script); submit and "
            "write nothing.",
        ),
    ] = False,
    max_runs: Annotated[
        int,
        typer.Option(
            min=1, help="The most runs (cells × seeds) to start; a larger grid is refused."
        ),
    ] = MAX_RUNS,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir",
            "-o",
            help="Sweep directory (new, empty, or this sweep's: finished runs are reused); "
            "default: runs/sweep-<recipe>-<YYYYmmdd-HHMMSS>.",
        ),
    ] = None,
    metric: Annotated[
        str, typer.Option(help="What each run reports, from its metrics.jsonl.")
    ] = "test_accuracy",
    select: Annotated[
        str | None,
        typer.Option(
            help="Report each run at the epoch where this metric is best (largest; smallest "
            "for a *loss), e.g. val_accuracy with data.validation_split=0.1; default: the "
            "last epoch.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Train recipes over a grid of overrides and several seeds; tabulate the results.

    Every (cell, seed) is a `corebp run` of its own, in <sweep dir>/<cell>/seed-<s>, and its
    output goes to seed-<s>.log beside it; --launcher says where the runs go: processes on
    this machine, Slurm jobs through submitit, or Ray tasks. sweep.md (the table: mean ± std
    and min–max over seeds per cell), sweep.png (the same as a picture, every seed a dot) and
    sweep.json (every run's numbers) are rewritten as each run finishes. Run the same command
    with the same --output-dir to finish an interrupted sweep or add seeds: finished runs are
    kept, interrupted or lost ones resumed. Everything is validated before the first run is
    submitted.

    Examples:

      corebp sweep mnist-784-100-10 --seeds 0-9 --jobs 2

      corebp sweep mnist-mlp-fa learning_rule.type=backprop,fa,dfa --seeds 0-2

      corebp sweep mnist-lenet5,mnist-lenet5-fa,mnist-lenet5-dfa \\
        train.epochs=10 data.validation_split=0.1 --select val_accuracy \\
        --seeds 0-2 -o runs/lenet-rules

      corebp sweep mnist-lenet5 learning_rule.type=backprop,fa --seeds 0-4 \\
        --launcher submitit --partition gpu --gpus 1 --cpus 4 \\
        --mem 16G --time 2:00:00 --dry-run

      corebp sweep mnist-lenet5 learning_rule.type=backprop,fa --seeds 0-4 \\
        --launcher ray --address ray://head:10001 --cpus 2
    """
    from corebp.training.sweep import Sweep, make_launcher, parse_seeds

    sweep = Sweep(
        recipe.split(","),
        list(grid or []),
        parse_seeds(seeds, max_runs),
        output_dir,
        metric=metric,
        select=select,
        argv=["corebp", *sys.argv[1:]],
        max_runs=max_runs,
    )
    given = {
        "launcher": launcher,
        "jobs": jobs,
        "cpus": cpus,
        "gpus": gpus,
        "mem": mem,
        "time": time,
        "partition": partition,
        "account": account,
        "address": address,
    }
    runner = make_launcher({k: v for k, v in given.items() if v is not None}, launcher_config)
    if dry_run:
        todo = [sweep.job(run, runner) for run in sweep.todo()]
        typer.echo(f"sweep {sweep.name}: {len(todo)} runs to go, {runner}, into {sweep.directory}")
        typer.echo(runner.describe(todo, sweep.directory))
        return
    runner.check()
    sweep.execute(runner, echo=typer.echo)
    table = (sweep.directory / "sweep.md").read_text(encoding="utf-8")
    typer.echo("\n" + table + f"\nsweep directory: {sweep.directory}")
    failed = [r for r in sweep.runs if r.status == "failed"]
    if failed:
        logs = ", ".join(str(r.log) for r in failed)
        typer.echo(
            f"corebp: {len(failed)} of {len(sweep.runs)} runs failed; see {logs} (delete a "
            "failed run's directory to run it again)",
            err=True,
        )
        raise typer.Exit(1)
