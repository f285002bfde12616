"""The training path is explicit: autograd appears only in the gradient checker.

Searched: the core (`corebp/`) and the first-party plugins (`plugins/`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import corebp

AUTOGRAD = re.compile(r"requires_grad|torch\.autograd|\.backward\(\)")
REPO = Path(corebp.__file__).parent.parent
#: The kit's loss checks call the explicit `Loss.backward()`, which the pattern cannot tell
#: from a tensor's; the kit itself uses no autograd (it calls the gradient checker for that).
ALLOWED = {"corebp/checks/gradcheck.py", "corebp/testing/layers.py"}


@pytest.mark.parametrize("folder", ["corebp", "plugins"])
def test_autograd_is_used_only_in_gradcheck(folder: str) -> None:
    root = REPO / folder
    files = sorted(root.rglob("*.py"))
    assert files, f"no Python files under {root}"
    hits = [
        f"{rel}:{n}: {line.strip()}"
        for path in files
        if (rel := path.relative_to(REPO).as_posix()) not in ALLOWED
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if AUTOGRAD.search(line)
    ]
    assert not hits, "autograd outside corebp/checks/gradcheck.py:\n" + "\n".join(hits)
