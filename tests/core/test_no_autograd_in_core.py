"""The training path is explicit: autograd appears only in the gradient checker and the kit.

Searched: the core (`corebp/`) and the first-party plugins (`plugins/`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import corebp

#: What every use of autograd needs: a tensor that records its graph (`requires_grad`, set
#: directly or by `torch.enable_grad`/`torch.func`) or the `torch.autograd` API. A tensor's
#: `.backward()` is not searched for: the explicit `Loss.backward()` reads the same, and
#: without a tensor that requires grad a tensor's `.backward()` raises.
AUTOGRAD = re.compile(r"requires_grad|torch\.autograd|enable_grad|torch\.func\b|grad_fn")
REPO = Path(corebp.__file__).parent.parent
#: The gradient checker, and the conformance kit's check of a layer's feedback parameter,
#: which compares the explicit backward with autograd of the layer's `reference`.
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
