"""The training path is explicit: autograd appears in corebp/ only in the gradient checker."""

from __future__ import annotations

import re
from pathlib import Path

import corebp

AUTOGRAD = re.compile(r"requires_grad|torch\.autograd|\.backward\(\)")
ALLOWED = {"gradcheck.py"}


def test_autograd_is_used_only_in_gradcheck() -> None:
    root = Path(corebp.__file__).parent
    hits = [
        f"{path.relative_to(root.parent)}:{n}: {line.strip()}"
        for path in sorted(root.rglob("*.py"))
        if path.relative_to(root).as_posix() not in ALLOWED
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if AUTOGRAD.search(line)
    ]
    assert not hits, "autograd outside corebp/gradcheck.py:\n" + "\n".join(hits)
