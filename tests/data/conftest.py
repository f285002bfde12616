"""Fixtures for the data tests: no network, and the tiny dataset of tiny_dataset.py."""

from __future__ import annotations

import pytest
from corebp_data.catalog import IdxDataset
from corebp_data.mnist import IdxImageSource
from tiny_dataset import make_tiny


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """No data test waits on torchvision's mirrors (tests of the mirror path fake them)."""
    monkeypatch.setenv("COREBP_SKIP_MIRRORS", "1")
    monkeypatch.delenv("COREBP_OFFLINE", raising=False)


@pytest.fixture
def tiny() -> IdxDataset:
    return make_tiny()


@pytest.fixture
def tiny_source(tiny: IdxDataset):
    """A source class reading the tiny dataset through the MNIST code path."""

    class Tiny(IdxImageSource):
        dataset_key = "tiny"

        @property
        def dataset(self) -> IdxDataset:
            return tiny

    return Tiny
