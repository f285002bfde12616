"""Fixtures of the data-parallel tests (the torchrun launch itself is in torchrun_launch.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from torchrun_launch import SPIRALS


@pytest.fixture
def single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """No torchrun around this test, whatever launched pytest."""
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def spirals(tmp_path: Path) -> Path:
    """tmp_path/spirals.yaml: SPIRALS."""
    path = tmp_path / "spirals.yaml"
    path.write_text(SPIRALS)
    return path
