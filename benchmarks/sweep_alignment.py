"""Per epoch, an alignment angle (feedback_vs_weight, or --angle) of each layer that has one,
for every run of a sweep whose recipes measure `checks.alignment`: the last measurement in each
epoch, then the mean over seeds, per cell.

    python benchmarks/sweep_alignment.py runs/mlp2-rules --json benchmarks/mlp2-alignment.json \
        --doc docs/learning-rules.md
    python benchmarks/sweep_alignment.py runs/local-rules --angle update_vs_gradient \
        --json benchmarks/local-alignment.json --doc docs/learning-rules.md
    python benchmarks/sweep_alignment.py --markdown benchmarks/mlp2-alignment.json

The sweep's own sweep.json names the cells and each run's folder (relative to the sweep's
directory); each run's metrics.jsonl holds its step rows (`{"step": n, "alignment": {...}}`)
and its epoch rows, in order.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import report

ANGLES = ("feedback_vs_weight", "update_vs_gradient", "error_vs_backprop")


def epochs_of(metrics: Path, angle: str) -> list[dict[str, float]]:
    """Per epoch, {layer: the angle at the epoch's last measurement}."""
    rows, last = [], {}
    for line in metrics.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if "alignment" in row:
            last = {k: a[angle] for k, a in row["alignment"].items() if a.get(angle) is not None}
        elif "epoch" in row:
            rows.append(dict(last))
    return rows


def measure(sweep: Path, angle: str) -> dict:
    results = json.loads((sweep / "sweep.json").read_text(encoding="utf-8"))
    cells = {}
    for cell in results["cells"]:
        runs = [epochs_of(sweep / run["dir"] / "metrics.jsonl", angle) for run in cell["runs"]]
        if not any(runs):
            continue
        layers = sorted({k for run in runs for epoch in run for k in epoch})
        means = [
            {k: statistics.mean(run[e][k] for run in runs) for k in layers}
            for e in range(min(len(run) for run in runs))
        ]
        cells[cell["label"]] = {"seeds": len(runs), "per_epoch": means}
    return {"sweep": results["command"], "angle": angle, "cells": cells}


def markdown(result: dict) -> str:
    cells = result["cells"]
    columns = [(label, k) for label, c in cells.items() for k in c["per_epoch"][0]]
    lines = [
        "| epoch | " + " | ".join(f"{label} {k}" for label, k in columns) + " |",
        "|---:|" + "---:|" * len(columns),
    ]
    for e in range(min(len(c["per_epoch"]) for c in cells.values())):
        values = [cells[label]["per_epoch"][e][k] for label, k in columns]
        lines.append(f"| {e + 1} | " + " | ".join(f"{v:.1f}" for v in values) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", type=Path, nargs="?", help="the sweep's output directory")
    parser.add_argument("--angle", choices=ANGLES, default=ANGLES[0], help="the angle tabulated")
    report.add_options(parser)
    args = parser.parse_args()
    if args.sweep is None and args.markdown is None:
        sys.exit("give the sweep's directory, or --markdown JSON")
    marker = report.begin(str(args.json or args.markdown))
    report.report(args, lambda: measure(args.sweep, args.angle), markdown, marker)


if __name__ == "__main__":
    main()
