"""The Python and YAML examples in README.md and docs/*.md run and validate as written.

Each file's top-level ```python blocks run in order in one namespace, as a reader would
paste them; blocks indented inside a list are fragments and are not run.

Every ```yaml block, at any indentation, is a recipe and is validated like `corebp validate`
does (schema, registered names, constructor arguments and constructors). A block that
omits some of the required sections (model, loss, optimizer, data) is a fragment: each
section it gives replaces that whole section of the default recipe (mnist-784-100-10),
and the result is validated. So a fragment cannot skip validation: a misspelt section is
an unknown key, and a wrong argument fails like in a full recipe. Examples that are not
recipes use another fence (```text).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf

from corebp.errors import ConfigError
from corebp.recipe.load import validate_recipe
from corebp.recipe.shipped import DEFAULT_RECIPE, find_recipe

ROOT = Path(__file__).parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", flags=re.S | re.M)
YAML_BLOCK = re.compile(r"^([ \t]*)```ya?ml[ \t]*\n(.*?)^\1```", flags=re.S | re.M)
REQUIRED = ("model", "loss", "optimizer", "data")


def blocks(doc: Path) -> list[str]:
    return BLOCK.findall(doc.read_text(encoding="utf-8"))


def yaml_blocks(doc: Path) -> list[str]:
    """Every ```yaml (or ```yml) block, dedented, top-level or indented in a list."""
    found = YAML_BLOCK.findall(doc.read_text(encoding="utf-8"))
    return [textwrap.dedent(body) for _, body in found]


def as_recipe(block: str) -> dict[str, Any]:
    """A YAML block as a whole recipe: a fragment's sections replace the default recipe's."""
    data = OmegaConf.to_container(OmegaConf.create(block), resolve=True)
    assert isinstance(data, dict), f"a YAML example must be a mapping of sections:\n{block}"
    if all(section in data for section in REQUIRED):
        return data  # type: ignore[return-value]
    base = OmegaConf.to_container(OmegaConf.load(find_recipe(DEFAULT_RECIPE)), resolve=True)
    assert isinstance(base, dict)
    return {**base, **data}


YAML_EXAMPLES = [
    pytest.param(block, id=f"{doc.name}-{i}")
    for doc in DOCS
    for i, block in enumerate(yaml_blocks(doc))
]


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


def test_yaml_blocks_are_all_found() -> None:
    """Every yaml fence in the docs is collected, indented ones included."""
    fences = sum(
        len(re.findall(r"^[ \t]*```ya?ml", d.read_text(encoding="utf-8"), flags=re.M)) for d in DOCS
    )
    assert fences == len(YAML_EXAMPLES) >= 3


@pytest.mark.parametrize("block", YAML_EXAMPLES)
def test_doc_yaml_examples_validate(block: str) -> None:
    validate_recipe(as_recipe(block), source="doc example")


def test_a_misspelt_section_in_a_fragment_fails_validation() -> None:
    with pytest.raises(ConfigError, match=r"dat: unknown key"):
        validate_recipe(as_recipe("dat:\n  source: mnist\n"), source="doc example")


def test_a_fragment_with_a_bad_argument_fails_validation() -> None:
    fragment = "data:\n  source: mnist\n  args: {normalise: default}\n"
    with pytest.raises(ConfigError, match=r"data.args.normalise: unknown key"):
        validate_recipe(as_recipe(fragment), source="doc example")
