"""The Python examples in README.md and docs/*.md run as written.

Each file's top-level ```python blocks run in order in one namespace, as a reader would
paste them; blocks indented inside a list are fragments and are not run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", flags=re.S | re.M)


def blocks(doc: Path) -> list[str]:
    return BLOCK.findall(doc.read_text(encoding="utf-8"))


def test_readme_and_layer_docs_have_examples() -> None:
    assert len(blocks(ROOT / "README.md")) >= 2
    assert len(blocks(ROOT / "docs" / "layers.md")) >= 2


@pytest.mark.parametrize("doc", [d for d in DOCS if blocks(d)], ids=lambda d: d.name)
def test_doc_examples_run(doc: Path) -> None:
    namespace = {"__name__": f"doc_{doc.stem}"}
    dtype = torch.get_default_dtype()
    try:
        for code in blocks(doc):
            exec(compile(code, str(doc), "exec"), namespace)
    finally:  # each doc starts from a fresh session's default (README sets float64)
        torch.set_default_dtype(dtype)
