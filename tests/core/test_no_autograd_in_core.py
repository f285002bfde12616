"""The training path is explicit: autograd appears in corebp/ only in the gradient checker."""

from __future__ import annotations

import re
from pathlib import Path

import corebp

AUTOGRAD = re.compile(r"requires_grad|torch\.autograd|\.backward\(\)")
#: The kit's loss checks call the explicit `Loss.backward()`, which the pattern cannot tell
#: from a tensor's; the kit itself uses no autograd (it calls the gradient checker for that).
ALLOWED = {"gradcheck.py", "testing/layers.py"}


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
