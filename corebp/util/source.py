"""What a measured number depends on besides the recipe: the code it ran (the git commit of
corebp's checkout) and the arithmetic's own knobs (torch's thread count, its CPU kernels and
the processor).

Float training from a fixed seed is reproducible only for the same code, thread count,
kernels and processor: a matrix product on 2 threads sums in another order than on 1, and
MKL picks its code path by the processor's vendor and model (the same torch and AVX512
kernels gave the notebook recipe 75.56 % on one machine and 75.58 % on an AMD EPYC, on 1
thread each). A chaotic run (the notebook recipe's) then ends a tenth of a point apart.
Every run's provenance.json and every sweep.json record these, so a quoted number says what
it was measured with.
"""

from __future__ import annotations

import platform
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


def processor(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The processor's vendor, family and model, as the first CPU of /proc/cpuinfo gives them
    (e.g. "AuthenticAMD family 25 model 17 (AMD EPYC)"); elsewhere what `platform` knows."""
    try:
        first = cpuinfo.read_text(encoding="utf-8", errors="replace").split("\n\n")[0]
    except OSError:
        first = ""
    fields: dict[str, str] = {}
    for line in first.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    if "vendor_id" not in fields:
        return platform.processor() or platform.machine()
    return (
        f"{fields['vendor_id']} family {fields.get('cpu family', '?')} "
        f"model {fields.get('model', '?')} ({fields.get('model name', '?')})"
    )


def kernels() -> dict[str, str]:
    """The CPU kernels torch dispatches to and the processor they run on."""
    return {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu": processor()}


def arithmetic() -> dict[str, Any]:
    """torch's intra-op thread count, the CPU kernels it dispatches to and the processor."""
    return {"torch_threads": torch.get_num_threads(), **kernels()}
