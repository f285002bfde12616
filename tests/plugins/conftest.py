"""Fixtures for plugin tests: throw-away installed distributions made of a dist-info folder."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from corebp.plugins import registry


@pytest.fixture(autouse=True)
def _plugin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests set COREBP_PLUGINS / COREBP_STRICT_PLUGINS themselves; start from neither."""
    monkeypatch.delenv("COREBP_PLUGINS", raising=False)
    monkeypatch.delenv("COREBP_STRICT_PLUGINS", raising=False)


@pytest.fixture
def make_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str, str], Path]]:
    """`make(name, source)` installs a distribution `corebp-test-<name>` (on sys.path) whose
    entry point `<name>` in the group "corebp" is module `corebp_test_<name>` with `source`;
    it returns the folder, for PYTHONPATH in subprocesses."""
    modules: list[str] = []

    def make(name: str, source: str) -> Path:
        module = f"corebp_test_{name}"
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        info = tmp_path / f"corebp_test_{name}-0.0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: corebp-test-{name}\nVersion: 0.0.1\n"
        )
        (info / "entry_points.txt").write_text(f"[corebp]\n{name} = {module}\n")
        modules.append(module)
        return tmp_path

    monkeypatch.syspath_prepend(str(tmp_path))
    yield make
    for module in modules:
        sys.modules.pop(module, None)


@pytest.fixture
def fresh_registry() -> Iterator[None]:
    """The process-wide `registry()` reloaded before and after the test (for plugins it makes)."""
    registry.cache_clear()
    yield
    registry.cache_clear()
