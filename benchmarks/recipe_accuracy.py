"""Test accuracy of shipped recipes over seeds, per epoch, written to a JSON file.

    python benchmarks/recipe_accuracy.py mnist-lenet5 --seeds 0 1 2 --epochs 5
    python benchmarks/recipe_accuracy.py mnist-lenet5-batchnorm --seeds 0 --epochs 5

Each (recipe, seed) is one `Trainer.fit()` with `train.seed=<seed> train.epochs=<epochs>`
and no run directory; the JSON (default benchmarks/recipe_accuracy.json) is rewritten after
every run, so a stopped measurement keeps what it finished. The recipe headers quote it in
the words `header_line` prints (tests/recipes/test_recipe_accuracy.py keeps them equal).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from pathlib import Path
from typing import Any

import torch

from corebp.recipe import load_recipe
from corebp.trainer import Trainer

OUT = Path(__file__).with_name("recipe_accuracy.json")


def measure(recipe: str, seed: int, epochs: int) -> dict[str, Any]:
    loaded = load_recipe(recipe, [f"train.seed={seed}", f"train.epochs={epochs}"])
    trainer = Trainer(loaded, progress="log")
    trainer.fit()
    return {
        "seed": seed,
        "test_accuracy": [row["test_accuracy"] for row in trainer.history],
        "seconds": [row["seconds"] for row in trainer.history],
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median, mean, min and max of the final test accuracy over the runs."""
    final = [r["test_accuracy"][-1] for r in runs]
    return {
        "seeds": [r["seed"] for r in runs],
        "median": statistics.median(final),
        "mean": statistics.fmean(final),
        "min": min(final),
        "max": max(final),
    }


def header_line(entry: dict[str, Any]) -> str:
    """The sentence a recipe's header quotes from an entry of the JSON."""
    final, epochs = entry["final_test_accuracy"], entry["epochs"]
    seeds = ("seeds " if len(final["seeds"]) > 1 else "seed ") + ", ".join(map(str, final["seeds"]))
    return (
        f"# Measured: test accuracy after {epochs} epochs, {seeds}: median "
        f"{final['median']:.2f} %, range {final['min']:.2f}–{final['max']:.2f} % "
        "(benchmarks/recipe_accuracy.json)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    key = f"{args.recipe}@{args.epochs}"
    entry: dict[str, Any] = {
        "recipe": args.recipe,
        "epochs": args.epochs,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "torch": torch.__version__,
        "runs": [],
    }
    for seed in args.seeds:
        entry["runs"].append(measure(args.recipe, seed, args.epochs))
        entry["final_test_accuracy"] = summarise(entry["runs"])
        results[key] = entry
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(header_line(entry))


if __name__ == "__main__":
    main()
