"""Fixtures every test folder may use."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TMPDIR for this test alone, so that a traceback file corebp writes there is seen
    (and COREBP_DEBUG off, so that an internal error writes one instead of raising)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    monkeypatch.delenv("COREBP_DEBUG", raising=False)
    return folder
