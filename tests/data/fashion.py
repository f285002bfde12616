"""Real Fashion-MNIST for tests: fetched without the mirrors, from Debian's package."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from corebp_data.fetch import FetchResult, fetch

from corebp.errors import DataError

PACKAGE = "dataset-fashion-mnist"


def _apt_offers_package() -> bool:
    if shutil.which("apt-cache") is None or shutil.which("apt-get") is None:
        return False
    policy = subprocess.run(["apt-cache", "policy", PACKAGE], capture_output=True, text=True)
    return "Candidate:" in policy.stdout and "Candidate: (none)" not in policy.stdout


def fetch_fashion_mnist(root: Path) -> FetchResult:
    """Fashion-MNIST in `root` (installed package or `apt-get download`); the test is skipped,
    saying why, only where apt cannot provide the package at all."""
    try:
        return fetch("fashion_mnist", root, mirrors=False, offline=False)
    except DataError as e:
        if not _apt_offers_package():
            pytest.skip(f"apt offers no {PACKAGE} on this machine (run `apt-get update`): {e}")
        raise
