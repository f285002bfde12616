"""corebp's pytest plugin: the conformance kit as fixtures, loaded by the `pytest11` entry point.

Installing corebp is enough: any test session in that environment gets these fixtures
without a conftest (`pytest --fixtures` lists them). Disable with `pytest -p no:corebp`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from corebp.plugins import Registry, load_registry
from corebp.testing import assert_conforms


@pytest.fixture
def corebp_registry(monkeypatch: pytest.MonkeyPatch) -> Registry:
    """A freshly loaded corebp plugin registry, strict: a plugin that fails to load is an error.

    Every installed plugin is loaded (COREBP_PLUGINS is unset for the test), so
    `corebp_registry.get("optimizers", "lion")` proves yours is discovered.
    """
    monkeypatch.delenv("COREBP_PLUGINS", raising=False)
    return load_registry(strict=True)


@pytest.fixture
def corebp_conformance(corebp_registry: Registry) -> Callable[..., None]:
    """Run corebp's conformance suite on a component: `corebp_conformance(MyLayer)`.

    Takes a class, or a registered name (`corebp_conformance("lion")`, looked up in every
    kind of `corebp_registry`), and optionally `check_args=[{...}, ...]` to replace the
    class's own argument sets. Fails with one message listing every broken property, each
    naming the component and the property.
    """

    def run(component: type | str, check_args: list[Mapping[str, Any]] | None = None) -> None:
        cls = corebp_registry.find(component).obj if isinstance(component, str) else component
        assert_conforms(cls, check_args)

    return run
