"""What a measured number depends on besides the recipe: the code it ran (the git commit of
corebp's checkout) and the arithmetic's own knobs (torch's thread count and CPU kernels).

Float training from a fixed seed is reproducible only for the same code, thread count and
kernels: a matrix product on 2 threads sums in another order than on 1, and a chaotic run
(the notebook recipe's) ends a tenth of a point apart. Every run's provenance.json and every
sweep.json record these, so a quoted number says what it was measured with.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import torch

#: The checkout corebp runs from, where it is one (an installed wheel is not).
CHECKOUT = Path(__file__).resolve().parents[2]


def commit() -> str | None:
    """The checkout's HEAD commit, with "+changes" if its tracked files differ from it; None
    where corebp does not run from a git checkout (or git is missing)."""
    if not (CHECKOUT / ".git").exists():
        return None
    try:
        git = ["git", "-C", str(CHECKOUT)]
        head = subprocess.run(
            [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        changed = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+changes" if changed else "")


def arithmetic() -> dict[str, Any]:
    """torch's intra-op thread count and the CPU kernels it dispatches to."""
    return {
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }
