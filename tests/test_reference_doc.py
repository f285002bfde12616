"""docs/reference.md's generated lists are what the code has: init names, core components."""

from __future__ import annotations

from pathlib import Path

import pytest

from corebp.layers.init import INITIALISERS
from corebp.plugins import load_registry

DOC = Path(__file__).parents[1] / "docs" / "reference.md"


def initialiser_table() -> str:
    """The init-name table: aliases of one function share a row, in registration order."""
    names: dict[object, list[str]] = {}
    for name, fn in INITIALISERS.items():
        names.setdefault(fn, []).append(name)
    lines = ["| init | draws |", "| --- | --- |"]
    for fn, aliases in names.items():
        summary = (fn.__doc__ or "").strip().splitlines()[0]
        lines.append(f"| {', '.join(f'`{n}`' for n in aliases)} | {summary} |")
    return "\n".join(lines)


def core_components() -> str:
    """The layers, losses and learning rules the core registers (plugin `core`), counted."""
    reg = load_registry()
    lines = []
    for kind in ("layers", "losses", "learning_rules"):
        names = sorted(n for n, c in reg.components[kind].items() if c.plugin == "core")
        listed = ", ".join(f"`{n}`" for n in names)
        lines.append(f"- {len(names)} {kind.replace('_', ' ')}: {listed}")
    return "\n".join(lines)


def section(name: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    begin = f"<!-- {name}: generated, checked by tests/test_reference_doc.py -->\n"
    return text.split(begin, 1)[1].split(f"<!-- end {name} -->", 1)[0].strip()


@pytest.mark.parametrize(
    ("name", "generate"),
    [("initialisers", initialiser_table), ("core components", core_components)],
)
def test_reference_lists_are_the_generated_ones(name, generate):
    assert section(name) == generate(), (
        f"docs/reference.md's {name} are stale; paste:\n{generate()}"
    )


def test_reference_documents_every_component_base_class():
    text = DOC.read_text(encoding="utf-8")
    for base in (
        "Layer",
        "Loss",
        "Optimizer",
        "Schedule",
        "Metric",
        "DataSource",
        "LearningRule",
        "Logger",
    ):
        assert f"\n## {base}\n" in text
        assert f"`corebp.{base}`" in text


def test_reference_is_linked_from_the_readme_and_the_plugin_guide():
    root = DOC.parents[1]
    assert "(docs/reference.md)" in (root / "README.md").read_text(encoding="utf-8")
    assert "(reference.md)" in (root / "docs" / "plugins.md").read_text(encoding="utf-8")
