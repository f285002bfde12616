"""The recipe field reference, generated from the schema; docs/recipes.md embeds it.

Regenerate with `python -m corebp.recipe.reference`.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel

from corebp.recipe.schema import ComponentSpec, Recipe


def _type_name(annotation: Any) -> str:
    if annotation is ComponentSpec:
        return "component"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _type_name(a) for a in args)
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return "mapping"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "—"
    if isinstance(value, list):
        value = [v.type if isinstance(v, ComponentSpec) else v for v in value]
    return (
        "null"
        if value is None
        else f"`{value!r}`".replace("True", "true").replace("False", "false")
    )


def fields(model: type[BaseModel] = Recipe, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(dotted key, type, default, description) for every field, sections before their keys."""
    rows = []
    for name, field in model.model_fields.items():
        key = prefix + name
        sub = next(
            (
                a
                for a in (field.annotation, *typing.get_args(field.annotation))
                if isinstance(a, type) and issubclass(a, BaseModel) and a is not ComponentSpec
            ),
            None,
        )
        description = field.description or (sub.__doc__ or "").strip().splitlines()[0]
        rows.append((key, _type_name(field.annotation), _default(field), description))
        if sub is not None:
            rows += fields(sub, key + ".")
    return rows


def markdown_table() -> str:
    """The field reference as a Markdown table."""
    lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    lines += [f"| `{k}` | {t} | {d} | {m} |" for k, t, d, m in fields()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
