"""Test accuracy of the notebook recipes over seeds: the distribution the docs quote.

    python benchmarks/seed_sweep.py                                # seeds 0-9, every MNIST recipe
    python benchmarks/seed_sweep.py --json benchmarks/seed_sweep.json
    python benchmarks/seed_sweep.py --json benchmarks/seed_sweep.json --recipes mnist-784-100-10

Each recipe is trained as shipped (5 epochs, float32, CPU) once per seed with
`train.seed=<seed>`, which draws the weights and the shuffling order; the autograd check is
turned off (it compares, it does not change training). The JSON keeps every run's final
test accuracy and, per recipe, the median, mean, min, max and number of seeds; with
`--recipes`, the other recipes' entries already in the `--json` file are kept, and the
file is rewritten after every run, so an interrupted sweep keeps what it measured. The docs
and the recipe headers quote `quote(entry)`, and tests/test_seed_sweep_doc.py checks it.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

import torch

import corebp
from corebp.recipe import load_recipe
from corebp.trainer import Trainer

RECIPES = [
    "mnist-784-100-10",
    "mnist-784-100-10-as-written",
    "mnist-784-100-10-tuned",
    "mnist-784-100-relu-cross-entropy",
]


def test_accuracy(recipe: str, seed: int) -> float:
    """The recipe's test accuracy (percent) after its epochs, trained with `seed`."""
    overrides = [f"train.seed={seed}", "train.device=cpu", "checks.autograd=null"]
    summary = Trainer(load_recipe(recipe, overrides), progress="log").fit()
    return float(summary["test_accuracy"])


def summarise(accuracies: dict[int, float]) -> dict[str, float | int]:
    """Median, mean, min, max and count of per-seed accuracies."""
    values = list(accuracies.values())
    return {
        "seeds": len(values),
        "median": statistics.median(values),
        "mean": statistics.fmean(values),
        "min": min(values),
        "max": max(values),
    }


def quote(entry: dict[str, Any]) -> str:
    """How the docs state a recipe's distribution: median, range and number of seeds."""
    return (
        f"median {entry['median']:.2f} %, range {entry['min']:.2f}–{entry['max']:.2f} % "
        f"over {entry['seeds']} seeds"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--recipes", nargs="+", default=RECIPES)
    parser.add_argument("--json", type=Path, help="write the results to this file")
    args = parser.parse_args(argv)
    results = {}
    if args.json and args.json.exists():
        results = json.loads(args.json.read_text(encoding="utf-8"))["recipes"]
    accuracies: dict[str, dict[int, float]] = {recipe: {} for recipe in args.recipes}
    for seed in args.seeds:  # seed by seed, so that an interrupted sweep keeps whole seeds
        for recipe in args.recipes:
            accuracies[recipe][seed] = test_accuracy(recipe, seed)
            print(f"{recipe} seed {seed}: {accuracies[recipe][seed]:.2f} %", file=sys.stderr)
            results[recipe] = {
                "test_accuracy": {str(s): a for s, a in accuracies[recipe].items()},
                **summarise(accuracies[recipe]),
            }
            if args.json:
                args.json.write_text(report(results), encoding="utf-8")
    if not args.json:
        print(report(results), end="")


def report(results: dict[str, Any]) -> str:
    """The JSON text: the environment and every recipe's runs and summary."""
    return (
        json.dumps(
            {
                "what": "test accuracy (percent) after the recipe's epochs, one run per seed",
                "corebp": corebp.__version__,
                "torch": torch.__version__,
                "machine": platform.machine(),
                "recipes": results,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
