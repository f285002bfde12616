"""What every benchmark script shares: --json/--markdown/--doc options, the JSON write, and the
table between markers in a doc page (so that the doc shows exactly what the JSON says)."""

from __future__ import annotations

import argparse
import json
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import corebp

END = "<!-- end of table -->"


def begin(source: str) -> str:
    """The marker before a table made from `source` (e.g. 'benchmarks/results.json')."""
    return f"<!-- table from {source} -->"


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--markdown", type=Path, help="print the table made from this JSON")
    parser.add_argument("--doc", type=Path, help="rewrite the table in this Markdown file")


def environment() -> dict[str, Any]:
    """The versions and machine a result was measured with."""
    return {
        "torch": torch.__version__,
        "corebp": corebp.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }


def targets_table(targets: list[dict[str, Any]]) -> list[str]:
    """The Markdown lines of a result's targets: each ratio against its limit, met or not."""
    lines = ["| target | ratio | limit | met |", "|---|---:|---:|---|"]
    for t in targets:
        if t["limit"] is None:  # a ratio stated, with no target
            lines.append(f"| {t['target']} | {t['ratio']:.3f} | — | stated |")
            continue
        met = "yes" if t["met"] else "NO"
        lines.append(f"| {t['target']} | {t['ratio']:.3f} | {t['limit']:.3g} | {met} |")
    return lines


def replace_table(doc: Path, marker: str, table: str) -> None:
    """Replace the table between `marker` and END in `doc`."""
    text = doc.read_text(encoding="utf-8")
    head, rest = text.split(marker, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(f"{head}{marker}\n{table}\n{END}{tail}", encoding="utf-8")


def report(
    args: argparse.Namespace,
    measure: Callable[[], dict[str, Any]],
    markdown: Callable[[dict[str, Any]], str],
    marker: str,
) -> None:
    """Measure (or read --markdown's JSON), write --json, rewrite --doc's table, print it."""
    if args.markdown:
        result = json.loads(args.markdown.read_text())
    else:
        result = measure()
        if args.json:
            args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.doc:
        replace_table(args.doc, marker, markdown(result))
    print(markdown(result))
