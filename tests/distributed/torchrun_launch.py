"""A 2-rank gloo launch on CPU through torchrun, for the data-parallel tests (imported by name:
`conftest` is ambiguous when several test folders are collected together)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.recipes.conftest import SYNTHETIC_RECIPE

RANKS = 2

#: The tests' synthetic recipe, data-parallel when torchrun starts it.
SPIRALS = SYNTHETIC_RECIPE.replace(
    "train: {epochs: 2, seed: 0, device: cpu}",
    "train: {epochs: 2, seed: 0, device: cpu, distributed: {backend: gloo, timeout_s: 30}}",
)
assert "distributed" in SPIRALS, "SYNTHETIC_RECIPE's train line changed; update SPIRALS"


def torchrun(
    *args: str, cwd: Path, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`torchrun --standalone --nproc_per_node=2 ARGS` (as `python -m torch.distributed.run`,
    which is what the `torchrun` script runs), one thread per rank, `env` added."""
    outer = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env = outer | {"OMP_NUM_THREADS": "1"} | (env or {})
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    return subprocess.run(
        [*command, f"--nproc_per_node={RANKS}", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
