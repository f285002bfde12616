"""`corebp sweep`: a grid of overrides × seeds, one run directory each, and the table."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from corebp.errors import ConfigError
from corebp.training.sweep import Cell, grid_cells, markdown, parse_grid, parse_seeds, pick
from corebp.util import source

HERE = Path(__file__).parent


def sweep(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corebp", "sweep", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_seeds_are_ranges_and_lists():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0,2,7") == [0, 2, 7]
    assert parse_seeds("0-2,9") == [0, 1, 2, 9]
    for bad in ("a", "1-", "0,0", ""):
        with pytest.raises(ConfigError, match="--seeds"):
            parse_seeds(bad)


def test_the_grid_is_every_combination_of_the_axes_and_single_values_are_shared():
    fixed, axes = parse_grid(
        ["optimizer.lr=0.1,0.5", "train.epochs=2", "learning_rule.type=fa,dfa", "x=[1,2]"]
    )
    assert fixed == ["train.epochs=2", "x=[1,2]"]
    cells = grid_cells(["r"], axes)
    assert [c.overrides for c in cells] == [
        ("optimizer.lr=0.1", "learning_rule.type=fa"),
        ("optimizer.lr=0.1", "learning_rule.type=dfa"),
        ("optimizer.lr=0.5", "learning_rule.type=fa"),
        ("optimizer.lr=0.5", "learning_rule.type=dfa"),
    ]
    two = grid_cells(["a", "b.yaml"], [])
    assert [(c.label, c.dirname) for c in two] == [("a", "a"), ("b.yaml", "b")]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("train.seed=1,2", "use --seeds"),
        ("optimizer.lr", "expected dotted.key=value"),
        ("output.dir=x", "the sweep names each run's directory"),
    ],
)
def test_grid_arguments_the_sweep_cannot_take_are_refused(item, message):
    with pytest.raises(ConfigError, match=message):
        parse_grid([item])
    with pytest.raises(ConfigError, match="given twice"):
        parse_grid(["optimizer.lr=0.1", "optimizer.lr=0.2,0.3"])


def test_selection_takes_the_best_epoch_of_the_selection_metric_and_reports_the_metric_there():
    history = [
        {"epoch": 1, "val_accuracy": 80.0, "test_accuracy": 79.0, "val_loss": 0.5},
        {"step": 150, "alignment": {}},  # a row without the keys is ignored
        {"epoch": 2, "val_accuracy": 90.0, "test_accuracy": 85.0, "val_loss": 0.3},
        {"epoch": 3, "val_accuracy": 90.0, "test_accuracy": 88.0, "val_loss": 0.4},
    ]
    assert pick(history, "test_accuracy", None)["epoch"] == 3
    assert pick(history, "test_accuracy", "val_accuracy")["epoch"] == 2  # the earliest best
    assert pick(history, "test_accuracy", "val_loss")["epoch"] == 2  # a loss: the smallest


def test_a_sweep_runs_every_cell_and_seed_and_tabulates_each_cells_runs(synthetic_recipe, tmp_path):
    out = tmp_path / "sweep"
    proc = sweep(
        synthetic_recipe, "optimizer.lr=0.1,2.0", "--seeds", "0-1", "--jobs", "2", "-o", out
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads((out / "sweep.json").read_text())
    assert results["grid"] == {"optimizer.lr": ["0.1", "2.0"]} and results["seeds"] == [0, 1]
    assert results["environment"]["commit"] == source.commit()
    assert results["environment"]["cpu"] == source.processor()
    assert results["environment"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    threads = os.environ.get("OMP_NUM_THREADS") or str(max(1, (os.cpu_count() or 1) // 2))
    assert results["environment"]["torch_threads_per_run"] == threads  # --jobs 2
    table = (out / "sweep.md").read_text()
    assert table in proc.stdout
    for cell, lr in zip(results["cells"], ("0.1", "2.0"), strict=True):
        finals = []
        for seed in (0, 1):
            run = out / f"optimizer.lr={lr}" / f"seed-{seed}"
            summary = json.loads((run / "summary.json").read_text())
            recipe = (run / "recipe.yaml").read_text()
            assert summary["seed"] == seed and f"lr: {lr}" in recipe
            finals.append(summary["test_accuracy"])
        assert [r["value"] for r in cell["runs"]] == finals
        s = cell["summary"]
        assert s["mean"] == statistics.fmean(finals) and s["std"] == statistics.stdev(finals)
        assert (s["min"], s["max"]) == (min(finals), max(finals))
        line = (
            f"| optimizer.lr={lr} | 2/2 | {s['mean']:.2f} ± {s['std']:.2f} | "
            f"{s['min']:.2f}–{s['max']:.2f} | 2 |"
        )
        assert line in table
    assert results["cells"][0]["summary"] != results["cells"][1]["summary"]
    picture = (out / "sweep.png").read_bytes()
    with Image.open(out / "sweep.png") as png:
        assert png.format == "PNG" and min(png.size) >= 200

    again = sweep(synthetic_recipe, "optimizer.lr=0.1,2.0", "--seeds", "0-2", "-o", out)
    assert again.returncode == 0, again.stderr
    assert "4 runs already finished, 2 to go" in again.stdout
    assert json.loads((out / "sweep.json").read_text())["cells"][0]["summary"]["n"] == 3
    assert (out / "sweep.png").read_bytes() != picture  # redrawn with the third seed


def test_with_select_each_run_reports_the_test_metric_at_its_best_validation_epoch(
    synthetic_recipe, tmp_path
):
    out = tmp_path / "sweep"
    args = ["train.epochs=4", "data.validation_split=0.3", "optimizer.lr=0.3,1.0"]
    proc = sweep(synthetic_recipe, *args, "--seeds", "0", "--select", "val_accuracy", "-o", out)
    assert proc.returncode == 0, proc.stderr
    for cell in json.loads((out / "sweep.json").read_text())["cells"]:
        (run,) = cell["runs"]
        history = rows(out / run["dir"])
        best = max(r["val_accuracy"] for r in history)
        chosen = next(r for r in history if r["val_accuracy"] == best)
        assert (run["epoch"], run["value"]) == (chosen["epoch"], chosen["test_accuracy"])
    assert "test_accuracy at the epoch with the best val_accuracy" in proc.stdout


def test_an_interrupted_run_is_resumed_when_the_sweep_is_run_again(synthetic_recipe, tmp_path):
    out = tmp_path / "sweep"
    assert sweep(synthetic_recipe, "train.epochs=3", "--seeds", "0", "-o", out).returncode == 0
    run = out / "recipe" / "seed-0"
    expected = rows(run)
    subprocess.run(["rm", "-r", str(run)], check=True)
    overrides = ["train.epochs=3", "train.seed=0", "--output-dir", str(run)]
    stop = [sys.executable, str(HERE / "stop_at_step.py"), "INT", "20", "run"]
    subprocess.run([*stop, str(synthetic_recipe), *overrides], capture_output=True, timeout=120)
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"

    proc = sweep(synthetic_recipe, "train.epochs=3", "--seeds", "0", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "0 runs already finished, 1 to go" in proc.stdout
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"
    resumed = rows(run)
    for row in resumed + expected:
        row.pop("seconds")
    assert resumed == expected


def test_a_diverged_run_is_counted_not_averaged(synthetic_recipe, tmp_path):
    out = tmp_path / "sweep"
    relu = ["model.1.type=relu", "model.3.type=relu"]
    proc = sweep(synthetic_recipe, *relu, "optimizer.lr=0.1,1e30", "--seeds", "0", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "| optimizer.lr=1e30 | 0/1, 1 diverged | – | – | – |" in proc.stdout
    cells = json.loads((out / "sweep.json").read_text())["cells"]
    assert cells[1]["summary"] is None and cells[1]["runs"][0]["status"] == "diverged"


def test_a_failed_run_is_counted_named_with_its_log_and_the_sweep_exits_1(
    synthetic_recipe, tmp_path
):
    out = tmp_path / "sweep"
    # Valid as a recipe, but the model does not fit the data: the run itself fails.
    proc = sweep(synthetic_recipe, "model.0.in_features=2,3", "--seeds", "0", "-o", out)
    assert proc.returncode == 1
    log = out / "model.0.in_features=3" / "seed-0.log"
    assert f"1 of 2 runs failed; see {log}" in proc.stderr
    assert "model: does not fit the data" in log.read_text()
    assert "| model.0.in_features=3 | 0/1, 1 failed | – | – | – |" in proc.stdout
    cells = json.loads((out / "sweep.json").read_text())["cells"]
    assert cells[0]["status"] == {"completed": 1} and cells[1]["status"] == {"failed": 1}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["optimizer.lr=0.1,-1"], "sweep cell 'optimizer.lr=-1': "),
        (["--select", "val_accuracy"], "for val_..., hold out a validation split"),
        (["--seeds", "3-x"], "--seeds '3-x'"),
        (["train.seed=0,1"], "use --seeds"),
    ],
)
def test_bad_sweeps_are_refused_before_anything_is_written(
    synthetic_recipe, tmp_path, args, message
):
    out = tmp_path / "sweep"
    proc = sweep(synthetic_recipe, *args, "-o", out)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


def test_a_directory_holding_something_else_is_refused(synthetic_recipe, tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    proc = sweep(synthetic_recipe, "-o", tmp_path / "other")
    assert proc.returncode == 2 and "is not empty and holds no sweep.json" in proc.stderr
    assert sweep(synthetic_recipe, "--seeds", "0", "-o", tmp_path / "s").returncode == 0
    proc = sweep(synthetic_recipe, "train.epochs=1", "--seeds", "0", "-o", tmp_path / "s")
    assert proc.returncode == 2 and "holds another sweep" in proc.stderr


def test_the_table_says_which_epochs_were_chosen():
    results = {
        "recipes": ["r"],
        "metric": "test_accuracy",
        "select": "val_accuracy",
        "seeds": [0, 1],
        "cells": [
            {
                "label": Cell("r", ("a=1",)).label,
                "status": {"completed": 2},
                "summary": {"mean": 98.0, "std": 0.5, "min": 97.5, "max": 98.5},
                "epochs": [7, 10],
                "trained_epochs": [10],
            }
        ],
    }
    assert "| a=1 | 2/2 | 98.00 ± 0.50 | 97.50–98.50 | 7–10 of 10 |" in markdown(results)
