"""`corebp show NAME`: what a registered component is and the arguments a recipe may give it."""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from typing import Annotated, Any, Literal

import docstring_parser
import typer

from corebp.contracts.choices import OneOf
from corebp.plugins import Component, PluginInfo, registry

#: Where a docstring's argument section starts (Google style, read by docstring_parser).
ARGS_SECTION = re.compile(r"^(Args|Arguments):\s*$", re.M)


def _meanings(cls: type) -> dict[str, str]:
    """Each argument's meaning from the `Args:` sections of `cls` and its bases (nearest wins)."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        for doc in (klass.__dict__.get("__doc__"), getattr(init, "__doc__", None)):
            if doc:
                parsed = docstring_parser.parse(doc, style=docstring_parser.DocstringStyle.GOOGLE)
                for arg in parsed.params:
                    found[arg.arg_name] = " ".join((arg.description or "").split())
    return found


def _type_name(annotation: Any, allowed: list[Any] | None) -> str:
    """The annotation as written (a string under `from __future__ import annotations`), or
    for a fixed set the types of its values ("str", "str | None")."""
    if allowed is not None:
        return " | ".join(
            dict.fromkeys(type(v).__name__ if v is not None else "None" for v in allowed)
        )
    if annotation is inspect.Parameter.empty:
        return ""
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


def _allowed(hint: Any) -> list[Any] | None:
    """The values an argument annotated `hint` takes when they are a fixed set, else None:
    a `Literal`'s, a `OneOf`'s (in `Annotated`), either one `| None` (None included)."""
    origin = typing.get_origin(hint)
    if origin is Annotated:
        marks = [m for m in hint.__metadata__ if isinstance(m, OneOf)]
        return list(marks[0].values) if marks else _allowed(typing.get_args(hint)[0])
    if origin is Literal:
        return list(typing.get_args(hint))
    if hint is type(None):
        return [None]
    if origin in (typing.Union, types.UnionType):
        parts = [_allowed(member) for member in typing.get_args(hint)]
        if all(p is not None for p in parts) and any(p != [None] for p in parts):
            return [v for p in parts if p is not None for v in p]
    return None


def _hints(cls: type[object]) -> dict[str, Any]:
    """The constructor's resolved annotations, with `Annotated` metadata ({} if unresolvable)."""
    try:
        return typing.get_type_hints(cls.__init__, include_extras=True)
    except Exception:  # an annotation that cannot be resolved has no fixed set of values
        return {}


def arguments(cls: type[object], kind: str) -> list[dict[str, Any]]:
    """Each argument a recipe may give `cls`, a component of `kind` ("layers", ...): its name,
    type, whether it is required, default, meaning (the `Args:` entry, "" without one) and
    allowed values (a list for a fixed set, else None). What `corebp show` prints."""
    from corebp.recipe.components import SUPPLIED

    meanings = _meanings(cls)
    hints = _hints(cls)
    found = []
    for name, p in inspect.signature(cls).parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or name in SUPPLIED[kind]:
            continue
        allowed = _allowed(hints.get(name))
        found.append(
            {
                "name": name,
                "type": _type_name(p.annotation, allowed),
                "required": p.default is p.empty,
                "default": None if p.default is p.empty else p.default,
                "meaning": meanings.get(name, ""),
                "allowed": allowed,
            }
        )
    return found


def describe(component: Component, plugin: PluginInfo) -> dict[str, Any]:
    """The component as plain data: what `corebp show --json` prints."""
    from corebp.recipe.components import SUPPLIED

    cls = component.obj
    supplied = SUPPLIED[component.kind]
    parameters = inspect.signature(cls).parameters
    doc = inspect.getdoc(cls) or ""
    return {
        "name": component.name,
        "kind": component.kind.rstrip("s").replace("_", " "),
        "plugin": component.plugin,
        "distribution": plugin.source.split(" (", 1)[0],
        "version": plugin.version,
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "doc": ARGS_SECTION.split(doc, maxsplit=1)[0].strip(),
        "arguments": arguments(cls, component.kind),
        "supplied": {n: source for n, source in supplied.items() if n in parameters},
    }


def _meaning(argument: dict[str, Any]) -> str:
    """The meaning column: the docstring's words, then the allowed values if they are a set."""
    allowed = argument["allowed"]
    if allowed is None:
        return argument["meaning"] or "-"
    values = ", ".join("null" if v is None else str(v) for v in allowed)
    return " ".join(filter(None, [argument["meaning"], f"One of: {values}."]))


def _as_text(d: dict[str, Any]) -> str:
    lines = [
        f"{d['name']}: {d['kind']} {d['class']}",
        f"from plugin {d['plugin']!r}, distribution {d['distribution']} {d['version']}",
        "",
        d["doc"] or "(no docstring)",
        "",
    ]
    rows = [("argument", "type", "default", "meaning")] + [
        (
            a["name"],
            a["type"] or "-",
            "required" if a["required"] else repr(a["default"]),
            _meaning(a),
        )
        for a in d["arguments"]
    ]
    if d["arguments"]:
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines += ["  " + "  ".join([*map(str.ljust, r[:3], widths), r[3]]) for r in rows]
    else:
        lines.append("  no arguments")
    if d["supplied"]:
        given = ", ".join(f"{n} (from {src})" for n, src in d["supplied"].items())
        lines.append(f"  supplied by corebp, not the recipe: {given}")
    return "\n".join(lines)


def command(
    name: Annotated[str, typer.Argument(help="A registered component name, e.g. sgd or linear.")],
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="The kind, when several kinds use the name (e.g. metrics)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show a component: kind, class, plugin, distribution and version, docstring, and each
    argument a recipe may give it, with type, default, meaning and allowed values.

    Examples:

      corebp show sgd

      corebp show linear --json

      corebp show loss --kind metrics
    """
    reg = registry()
    component = reg.find(name, kind)
    plugin = next(p for p in reg.plugins if p.name == component.plugin)
    described = describe(component, plugin)
    if as_json:
        typer.echo(json.dumps(described, indent=2, default=repr, ensure_ascii=False))
    else:
        typer.echo(_as_text(described))
