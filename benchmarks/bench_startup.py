"""How long `corebp` takes to answer `--help` and `--version`, beside `import torch`.

Each command runs REPEATS times in a fresh process (after one untimed run that warms the
file cache); the table shows the median wall-clock time. `python -c pass` is the interpreter's
own start, the floor under every command.

    python benchmarks/bench_startup.py --json benchmarks/startup.json --doc docs/performance.md
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import report

REPEATS = 10
COREBP = str(Path(sys.executable).with_name("corebp"))
#: What is timed: a label and the command line.
COMMANDS = {
    "corebp --help": [COREBP, "--help"],
    "corebp --version": [COREBP, "--version"],
    'python -c "import torch"': [sys.executable, "-c", "import torch"],
    "python -c pass": [sys.executable, "-c", "pass"],
}
BEGIN = report.begin("benchmarks/startup.json")
END = report.END


def _seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def run(repeats: int) -> dict[str, Any]:
    runs: dict[str, list[float]] = {}
    for label, command in COMMANDS.items():
        _seconds(command)
        runs[label] = [_seconds(command) for _ in range(repeats)]
    return {
        "environment": {**report.environment(), "repeats": repeats},
        "runs": runs,
        "median_seconds": {label: statistics.median(r) for label, r in runs.items()},
    }


def markdown(result: dict[str, Any]) -> str:
    env = result["environment"]
    torch_s = result["median_seconds"]['python -c "import torch"']
    lines = [
        f"Median of {env['repeats']} runs each; corebp {env['corebp']}, torch {env['torch']}, "
        f"Python {env['python']}, {env['cpu_count']} CPUs ({env['machine']}).",
        "",
        "| command | median (s) | share of `import torch` |",
        "|---|---:|---:|",
    ]
    for label, seconds in result["median_seconds"].items():
        lines.append(f"| `{label}` | {seconds:.3f} | {seconds / torch_s:.0%} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=REPEATS)
    report.add_options(parser)
    args = parser.parse_args()
    report.report(args, lambda: run(args.repeats), markdown, BEGIN)


if __name__ == "__main__":
    main()
