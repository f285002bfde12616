"""Sweeps: recipes over a grid of overrides and several seeds, one run directory per run, and
a table of the results per cell (mean ± std, min–max over seeds).

    corebp sweep mnist-lenet5 learning_rule.type=backprop,fa --seeds 0-2 --jobs 2
    corebp sweep mnist-lenet5,mnist-lenet5-fa train.epochs=10 --seeds 0-2

A grid axis is an override with several comma-separated values (`key=v1,v2`); an override with
one value applies to every cell; several comma-separated recipes are an axis too (the first).
Each (cell, seed) is an ordinary `corebp run` in a process of its own
(`<sweep dir>/<cell>/seed-<s>`), so a sweep's runs are exactly the runs a user would get one by
one; a launcher (`corebp.contracts.launcher`: local processes, Slurm, Ray) runs them and says
how each ended, and the sweep keeps the books. The sweep directory holds `sweep.json` (every run's
numbers and each cell's summary), `sweep.md` (the table) and `sweep.png` (the metric per cell:
each seed, the mean and the min–max range); all are rewritten as each run ends, so an
interrupted sweep keeps what it finished, and running the same command again with the same
directory reuses finished runs and resumes interrupted ones.

What a run contributes is `--metric` (default `test_accuracy`) from its metrics.jsonl: at the
last epoch, or, with `--select val_accuracy`, at the epoch where the selection metric is best
(largest, or smallest for a name ending in `loss`): the model is chosen on data held out from
training (`data.validation_split`) and reported on the test split.
"""

from __future__ import annotations

import inspect
import itertools
import json
import math
import os
import platform
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

import corebp
from corebp.contracts.launcher import Job, Launcher
from corebp.errors import ConfigError, did_you_mean
from corebp.plugins import Registry, registry
from corebp.recipe import load_recipe
from corebp.recipe.components import build, check_arguments
from corebp.recipe.errors import raise_problems
from corebp.training.plots import save, sweep_figure
from corebp.training.rundir import strict_json
from corebp.training.sweep_limits import MAX_RUNS
from corebp.util import source
from corebp.util.atomic import write_atomic, write_bytes_atomic

#: Keys a grid may not vary: the sweep sets them itself.
RESERVED = {"train.seed": "use --seeds", "output.dir": "the sweep names each run's directory"}


@dataclass(frozen=True)
class Cell:
    """One point of the grid: its recipe and the overrides that differ between cells."""

    recipe: str
    overrides: tuple[str, ...]
    #: Whether the recipe is one of several (then it is part of the label).
    named: bool = False

    @property
    def label(self) -> str:
        """The recipe (where there are several) and the cell's overrides; the recipe alone
        where the grid has no axes."""
        parts = [self.recipe] if self.named or not self.overrides else []
        return " ".join(parts + list(self.overrides))

    @property
    def dirname(self) -> str:
        """A folder name for the cell: the recipe (where there are several) and the overrides,
        unsafe characters replaced by '_'; 'recipe' where the grid has no axes."""
        parts = [Path(self.recipe).stem] if self.named else []
        return (
            re.sub(r"[^A-Za-z0-9._=,+-]", "_", ",".join(parts + list(self.overrides))) or "recipe"
        )


@dataclass
class Run:
    """One (cell, seed) of a sweep and what it gave."""

    cell: Cell
    seed: int
    path: Path
    status: str = "pending"
    value: float | None = None
    epoch: int | None = None
    epochs: int | None = None
    seconds: float | None = None

    @property
    def log(self) -> Path:
        """The run's output, beside its directory (`seed-<s>.log`)."""
        return self.path.parent / f"seed-{self.seed}.log"

    def record(self, directory: Path) -> dict[str, Any]:
        """What sweep.json keeps of the run; `dir` relative to the sweep's `directory`."""
        return {
            "seed": self.seed,
            "dir": self.path.relative_to(directory).as_posix(),
            "status": self.status,
            "value": self.value,
            "epoch": self.epoch,
            "epochs": self.epochs,
            "seconds": self.seconds,
        }


def parse_seeds(text: str, limit: int = MAX_RUNS) -> list[int]:
    """'0-4' → [0, 1, 2, 3, 4]; '0,2,7' → [0, 2, 7]; '3' → [3]; at most `limit` seeds (a range
    is counted before it is made)."""
    ranges: list[range] = []
    try:
        for part in text.split(","):
            first, dash, last = part.strip().partition("-")
            ranges.append(range(int(first), int(last if dash else first) + 1))
    except ValueError:
        raise ConfigError(
            f"--seeds {text!r}: expected a range such as 0-4, a list such as 0,2,7, or both "
            "(0-2,9)."
        ) from None
    if sum(len(r) for r in ranges) > limit:
        raise ConfigError(
            f"--seeds {text!r}: more than {limit} seeds, the most runs a sweep starts; "
            "expected fewer (or lift the limit with --max-runs N)."
        )
    seeds = [seed for r in ranges for seed in r]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text!r}: expected distinct seeds, at least one.")
    return seeds


def parse_grid(items: Sequence[str]) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Split `key=value` items into overrides shared by every cell and grid axes
    (`key=v1,v2`: several values; a value that starts with '[' or '{' is one value)."""
    fixed: list[str] = []
    axes: list[tuple[str, list[str]]] = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(
                f"sweep argument {item!r}: expected dotted.key=value or dotted.key=v1,v2,... "
                "(e.g. learning_rule.type=backprop,fa)."
            )
        if key in RESERVED:
            raise ConfigError(
                f"sweep argument {item!r}: {key} is set by the sweep; {RESERVED[key]}."
            )
        values = [value] if value[:1] in "[{" else value.split(",")
        twice = next((v for v in values if values.count(v) > 1), None)
        if twice is not None:
            raise ConfigError(
                f"sweep argument {item!r}: {twice!r} is given twice; expected each value once."
            )
        if any(axis == key for axis, _ in axes) or any(f.startswith(key + "=") for f in fixed):
            raise ConfigError(f"sweep argument {item!r}: {key} is given twice; give it once.")
        if len(values) > 1:
            axes.append((key, values))
        else:
            fixed.append(item)
    return fixed, axes


def grid_cells(recipes: Sequence[str], axes: Sequence[tuple[str, list[str]]]) -> list[Cell]:
    """Every combination of the recipes and the axes' values, the recipes varying slowest."""
    keys = [k for k, _ in axes]
    return [
        Cell(recipe, tuple(f"{k}={v}" for k, v in zip(keys, values, strict=True)), len(recipes) > 1)
        for recipe in recipes
        for values in itertools.product(*(vs for _, vs in axes))
    ]


def summarise(values: Sequence[float]) -> dict[str, float | int]:
    """Count, mean, sample standard deviation (0 for one value), median, min and max."""
    return {
        "n": len(values),
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


def quote(summary: dict[str, Any]) -> str:
    """How docs and recipe headers state an accuracy over seeds, from a cell's `summary`:
    'median 79.20 %, range 40.74–92.96 % over 10 seeds'."""
    return (
        f"median {summary['median']:.2f} %, range {summary['min']:.2f}–{summary['max']:.2f} % "
        f"over {summary['n']} seeds"
    )


def pick(rows: Iterable[dict[str, Any]], metric: str, select: str | None) -> dict[str, Any] | None:
    """The metrics.jsonl epoch row a run reports: the last with `metric`, or the one where
    `select` is best (max; min for a name ending in 'loss'; the earliest on ties)."""
    rows = [r for r in rows if "epoch" in r and isinstance(r.get(metric), (int, float))]
    if select is None:
        return rows[-1] if rows else None
    scored = [r for r in rows if isinstance(r.get(select), (int, float))]
    if not scored:
        return None
    sign = -1.0 if select.endswith("loss") else 1.0
    return max(scored, key=lambda r: (sign * r[select], -r["epoch"]))


def read_run(run: Run, metric: str, select: str | None) -> None:
    """Fill in `run`'s status and numbers from its directory (missing: still pending)."""
    summary_path, metrics_path = run.path / "summary.json", run.path / "metrics.jsonl"
    if not summary_path.exists():
        return
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    run.status = summary.get("status", "completed")
    rows = []
    if metrics_path.exists():
        text = metrics_path.read_text(encoding="utf-8")
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    row = pick(rows, metric, select)
    run.epochs = max((r["epoch"] for r in rows if "epoch" in r), default=0)
    run.seconds = summary.get("seconds")
    if row is not None and run.status == "completed":
        run.value, run.epoch = float(row[metric]), int(row["epoch"])


class Sweep:
    """Recipes, shared overrides, grid cells and seeds, and the directory they go into."""

    def __init__(
        self,
        recipes: Sequence[str],
        items: Sequence[str],
        seeds: Sequence[int],
        directory: Path | None = None,
        metric: str = "test_accuracy",
        select: str | None = None,
        argv: Sequence[str] | None = None,
        max_runs: int = MAX_RUNS,
    ) -> None:
        if not recipes or len(set(recipes)) != len(recipes):
            raise ConfigError(f"recipes {list(recipes)}: expected distinct recipes, at least one.")
        self.fixed, self.axes = parse_grid(items)
        cells = len(recipes) * math.prod(len(values) for _, values in self.axes)
        if cells * len(seeds) > max_runs:
            raise ConfigError(
                f"sweep: {cells} cells × {len(seeds)} seeds = {cells * len(seeds)} runs, over "
                f"the limit of {max_runs}; expected a smaller grid. Fix: fewer values or "
                f"seeds, or lift the limit with --max-runs {cells * len(seeds)}."
            )
        self.cells = grid_cells(recipes, self.axes)
        folders: dict[str, Cell] = {}
        for cell in self.cells:
            other = folders.setdefault(cell.dirname, cell)
            if other is not cell:
                raise ConfigError(
                    f"sweep cells {other.label!r} and {cell.label!r} would share the folder "
                    f"{cell.dirname!r}; expected values that still differ once every character "
                    "but letters, digits and ._=,+- is made '_'."
                )
        self.seeds = list(seeds)
        self.metric = metric
        self.select = select
        #: OMP_NUM_THREADS of the runs this process started (`execute`); each run's own
        #: provenance.json records what it ran with.
        self.threads: str | None = None
        self.argv = list(argv) if argv is not None else None
        self.names = self._check_recipes()
        self.name = " + ".join(self.names)
        self.directory: Path = directory or default_directory(self.names)
        self._check_directory()
        self.runs = [
            Run(cell, seed, self.directory / cell.dirname / f"seed-{seed}")
            for cell in self.cells
            for seed in self.seeds
        ]

    def _check_recipes(self) -> list[str]:
        """Load every cell's recipe (the first seed), so that a bad value fails before any run,
        and check --metric and --select against its splits. Returns the recipes' names."""
        names: list[str] = []
        for cell in self.cells:
            try:
                loaded = load_recipe(cell.recipe, self.overrides(cell, self.seeds[0]))
            except ConfigError as e:
                raise ConfigError(f"sweep cell {cell.label!r}: {e}") from e
            if loaded.name not in names:
                names.append(loaded.name)
            splits = {"test"} | ({"val"} if loaded.recipe.data.validation_split else set())
            for key, what in ((self.metric, "--metric"), (self.select, "--select")):
                split = (key or "").partition("_")[0]
                if key is not None and split not in splits:
                    raise ConfigError(
                        f"{what} {key}: expected a metric of a split the runs evaluate "
                        f"({', '.join(sorted(f'{s}_<metric>' for s in splits))}); "
                        "for val_..., hold out a validation split, e.g. "
                        "data.validation_split=0.1."
                    )
        return names

    def _check_directory(self) -> None:
        """The directory must be new, empty, or hold this sweep (whose finished runs are kept)."""
        record = self.directory / "sweep.json"
        if record.exists():
            previous = json.loads(record.read_text(encoding="utf-8"))
            mine = self.identity()
            theirs = {k: previous.get(k) for k in mine}
            if theirs != mine:
                raise ConfigError(
                    f"--output-dir {str(self.directory)!r} holds another sweep ({theirs}); "
                    f"expected this one ({mine}), or give a new directory."
                )
        elif self.directory.exists() and any(self.directory.iterdir()):
            raise ConfigError(
                f"--output-dir {str(self.directory)!r} is not empty and holds no sweep.json; "
                "give a new or empty directory."
            )

    def identity(self) -> dict[str, Any]:
        """What must match for a directory's finished runs to be reused."""
        return {
            "recipes": self.names,
            "fixed": self.fixed,
            "metric": self.metric,
            "select": self.select,
        }

    def overrides(self, cell: Cell, seed: int) -> list[str]:
        return [*self.fixed, *cell.overrides, f"train.seed={seed}"]

    def command(self, run: Run) -> list[str]:
        """The `corebp` command line of `run`: `run` into a new directory, or `resume`."""
        exe = [sys.executable, "-m", "corebp"]
        if run.status in ("interrupted", "running"):
            return [*exe, "resume", str(run.path), "--progress", "log"]
        overrides = self.overrides(run.cell, run.seed)
        return [
            *exe,
            "run",
            run.cell.recipe,
            *overrides,
            "--output-dir",
            str(run.path),
            "--progress",
            "log",
        ]

    def todo(self) -> list[Run]:
        """Read every run's directory; the runs not finished yet (pending, or to resume)."""
        for run in self.runs:
            read_run(run, self.metric, self.select)
        return [r for r in self.runs if r.status not in ("completed", "diverged", "failed")]

    @staticmethod
    def run_threads(launcher: Launcher) -> str:
        """OMP_NUM_THREADS of each run: one thread per CPU `launcher` gives it, unless this
        process's environment sets it."""
        return os.environ.get("OMP_NUM_THREADS") or str(launcher.cpus)

    def job(self, run: Run, launcher: Launcher) -> Job:
        """What `launcher` runs for `run`: its command, directory, log and thread count."""
        return Job(
            f"{run.cell.dirname}/seed-{run.seed}",
            tuple(self.command(run)),
            run.path,
            run.log,
            Path.cwd(),
            {"OMP_NUM_THREADS": self.run_threads(launcher)},
        )

    def execute(self, launcher: Launcher, echo: Callable[[str], None] = print) -> None:
        """Run every run not finished yet with `launcher`; rewrite the tables after each."""
        todo = self.todo()
        echo(
            f"sweep {self.name}: {len(self.cells)} cells × {len(self.seeds)} seeds; "
            f"{len(self.runs) - len(todo)} runs already finished, {len(todo)} to go, "
            f"{launcher}, into {self.directory}"
        )
        self.threads = self.run_threads(launcher)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.write()
        by_dir = {run.path: run for run in todo}
        done = len(self.runs) - len(todo)
        finished = launcher.launch([self.job(run, launcher) for run in todo], self.directory)
        try:
            for job, code in finished:
                run = by_dir[job.run_dir]
                read_run(run, self.metric, self.select)
                if code != 0 and run.status not in ("diverged", "interrupted"):
                    run.status = "failed"
                done += 1
                echo(
                    f"[{done}/{len(self.runs)}] {run.cell.label} seed {run.seed}: {self.says(run)}"
                )
                self.write()
        finally:  # on Ctrl-C the launcher stops its runs (they checkpoint first)
            finished.close()
            for run in todo:
                if run.status != "failed":
                    read_run(run, self.metric, self.select)
            self.write()

    def says(self, run: Run) -> str:
        if run.value is None:
            return f"{run.status} (see {run.log})"
        chosen = f", epoch {run.epoch} by {self.select}" if self.select else ""
        return f"{self.metric} {run.value:.4g}{chosen}, {run.seconds or 0:.0f} s"

    def cell_summary(self, cell: Cell) -> dict[str, Any]:
        runs = [r for r in self.runs if r.cell == cell]
        values = [r.value for r in runs if r.value is not None]
        counts = dict(Counter(r.status for r in runs))
        out: dict[str, Any] = {"label": cell.label, "overrides": list(cell.overrides)}
        out["status"] = counts
        out["summary"] = summarise(values) if values else None
        out["epochs"] = sorted({r.epoch for r in runs if r.epoch is not None})
        out["trained_epochs"] = sorted({r.epochs for r in runs if r.epochs})
        out["runs"] = [r.record(self.directory) for r in runs]
        return out

    def results(self) -> dict[str, Any]:
        """Everything sweep.json holds."""
        return self.identity() | {
            "command": self.argv,
            "grid": {k: vs for k, vs in self.axes},
            "seeds": self.seeds,
            "environment": {
                "corebp": corebp.__version__,
                "commit": source.commit(),
                "torch_threads_per_run": self.threads,
                **source.kernels(),
                "torch": torch.__version__,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "cpu_count": os.cpu_count(),
            },
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "cells": [self.cell_summary(cell) for cell in self.cells],
        }

    def write(self) -> None:
        results = self.results()
        text = strict_json(results, indent=2) + "\n"
        write_bytes_atomic(self.directory / "sweep.json", text.encode())
        write_bytes_atomic(self.directory / "sweep.md", markdown(results).encode())
        write_atomic(self.directory / "sweep.png", lambda p: save(sweep_figure(results), p))


def markdown(results: dict[str, Any]) -> str:
    """The sweep's table: one row per cell, the metric's mean ± std and min–max over seeds."""
    metric, select = results["metric"], results["select"]
    how = f"at the epoch with the best {select}" if select else "at the last epoch"
    lines = [
        f"{' + '.join(results['recipes'])}: {metric} {how}, over seeds "
        f"{', '.join(map(str, results['seeds']))}.",
        "",
        f"| cell | runs | {metric} mean ± std | min–max | epochs |",
        "|---|---:|---:|---:|---|",
    ]
    for cell in results["cells"]:
        s, status = cell["summary"], cell["status"]
        done = status.get("completed", 0)
        runs = f"{done}/{sum(status.values())}" + "".join(
            f", {n} {k}" for k, n in sorted(status.items()) if k != "completed"
        )
        if s is None:
            lines.append(f"| {cell['label']} | {runs} | – | – | – |")
            continue
        lines.append(
            f"| {cell['label']} | {runs} | {s['mean']:.2f} ± {s['std']:.2f} | "
            f"{s['min']:.2f}–{s['max']:.2f} | {epochs_text(cell, select)} |"
        )
    return "\n".join(lines) + "\n"


def epochs_text(cell: dict[str, Any], select: str | None) -> str:
    """'10' (final epochs), or '7–10 of 10' (the epochs chosen by the selection metric)."""
    trained = "/".join(map(str, cell["trained_epochs"]))
    if not select:
        return trained
    chosen = cell["epochs"]
    span = f"{chosen[0]}" if len(chosen) == 1 else f"{chosen[0]}–{chosen[-1]}"
    return f"{span} of {trained}"


def launcher_config(path: Path) -> dict[str, Any]:
    """The options a --launcher-config YAML file sets: `launcher: NAME` and the launcher's
    options by their command-line names (`partition: gpu`, `time: "4:00:00"`)."""
    try:
        config = OmegaConf.load(path)
    except OSError as e:
        raise ConfigError(
            f"--launcher-config {str(path)!r}: cannot be read ({e.strerror}); expected a "
            "YAML file of launcher options."
        ) from None
    except Exception as e:  # yaml's own errors carry the line and column
        raise ConfigError(f"--launcher-config {str(path)!r}: not valid YAML: {e}") from None
    if not isinstance(config, DictConfig):
        raise ConfigError(
            f"--launcher-config {str(path)!r}: expected a mapping of options such as "
            "'launcher: submitit' and 'partition: gpu', one per line."
        )
    options = OmegaConf.to_container(config, resolve=True)
    assert isinstance(options, dict)  # a DictConfig's container is a dict
    return {str(k): v for k, v in options.items()}


def make_launcher(
    options: dict[str, Any], config: Path | None = None, reg: Registry | None = None
) -> Launcher:
    """The launcher that `options` (the command line's: `launcher` and each launcher option
    given) and the `config` file (`launcher_config`) ask for, the command line winning over
    the file; `local` unless one names another. An option the launcher does not take is
    refused, naming the launchers that do."""
    reg = reg or registry()
    given = {**(launcher_config(config) if config else {}), **options}
    name = str(given.pop("launcher", "local"))
    cls = reg.get("launchers", name, key="--launcher")
    takes = signature_of(reg, name)
    for option in given.keys() - takes:
        where = f"--{option}" if option in options else f"--launcher-config {config}: {option}"
        others = [n for n in reg.names("launchers") if option in signature_of(reg, n)]
        fix = (
            f"use --launcher {' or '.join(others)}, or leave {option} out"
            if others
            else f"leave it out{did_you_mean(option, takes)}"
        )
        raise ConfigError(
            f"{where}: the {name} launcher takes no {option}; expected its options "
            f"({', '.join(sorted(takes))}). Fix: {fix}."
        )
    problems, args = check_arguments("launchers", cls, given, "")
    raise_problems([f"--{p}" for p in problems], f"--launcher {name}")
    launcher: Launcher = build("launchers", cls, args, f"--launcher {name}")
    return launcher


def signature_of(reg: Registry, name: str) -> set[str]:
    """The options the launcher registered as `name` takes."""
    return set(inspect.signature(reg.get("launchers", name)).parameters)


def default_directory(names: Sequence[str]) -> Path:
    """runs/sweep-<first recipe>[-and-<n>-more]-<YYYYmmdd-HHMMSS>."""
    more = f"-and-{len(names) - 1}-more" if len(names) > 1 else ""
    return Path("runs") / f"sweep-{names[0]}{more}-{time.strftime('%Y%m%d-%H%M%S')}"
