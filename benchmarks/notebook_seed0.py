"""The notebook recipe's seed-0 result, as its header quotes it: test accuracy after 5 epochs
in float32 and float64, on 1 and on 2 torch threads, with the commit, CPU kernels and
processor it was measured with.

    python benchmarks/notebook_seed0.py --json benchmarks/notebook-seed0.json

Training from N(0, 1) weights is chaotic (recipes/mnist-784-100-10.yaml): one rounding of
difference grows about 10× every 50 steps, so the thread count, which orders the sums of a
matrix product, changes the result in its first decimal. tests/recipes/test_mnist.py trains
the recipe again and compares its accuracy with this file's for the same thread count,
torch, CPU kernels and processor: a change to the training path's arithmetic shows there.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import report
import torch

from corebp.recipe import load_recipe
from corebp.training.run import run_recipe
from corebp.util import source

RECIPE, THREADS, DTYPES = "mnist-784-100-10", (1, 2), ("float32", "float64")
#: What every measured run adds to the recipe: the check compares, it does not change a bit.
OVERRIDES = ["train.device=cpu", "checks.autograd=null", "output.progress=log"]


def accuracy(dtype: str, threads: int) -> float:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        loaded = load_recipe(RECIPE, [*OVERRIDES, f"train.dtype={dtype}"])
        with tempfile.TemporaryDirectory() as tmp:
            return run_recipe(loaded, Path(tmp) / "run")[1]["test_accuracy"]
    finally:
        torch.set_num_threads(before)


def measure() -> dict:
    runs = []
    for dtype in DTYPES:
        for threads in THREADS:
            print(f"{dtype}, {threads} thread(s) ...", file=sys.stderr, flush=True)
            runs.append(
                {
                    "dtype": dtype,
                    "torch_threads": threads,
                    "test_accuracy": accuracy(dtype, threads),
                }
            )
    environment = report.environment() | {"commit": source.commit(), **source.kernels()}
    return {
        "recipe": RECIPE,
        "seed": 0,
        "overrides": OVERRIDES,
        "environment": environment,
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    result = measure()
    text = json.dumps(result, indent=2) + "\n"
    if args.json:
        args.json.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
