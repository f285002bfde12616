"""docs/recipes.md documents every recipe field: its table is the one generated from the schema."""

from __future__ import annotations

from pathlib import Path

from corebp.recipe.reference import fields, markdown_table
from corebp.recipe.schema import Recipe

DOC = Path(__file__).resolve().parents[2] / "docs" / "recipes.md"


def test_the_field_table_in_docs_is_the_one_generated_from_the_schema():
    assert markdown_table() in DOC.read_text(), (
        "docs/recipes.md is out of date: paste the output of `python -m corebp.recipe.reference`"
    )


def test_the_generated_table_covers_every_schema_field():
    keys = {row[0] for row in fields()}
    assert set(Recipe.model_fields) <= keys
    assert {"train.epochs", "optimizer", "checks.autograd.twin", "data.validation_split"} <= keys
