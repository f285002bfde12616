"""`corebp show NAME`: what a registered component is and the arguments a recipe may give it."""

from __future__ import annotations

import inspect
import json
import re
from typing import Annotated, Any

import docstring_parser
import typer

from corebp.plugins import Component, PluginInfo, registry
from corebp.recipe.components import SUPPLIED

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


def _type_name(annotation: Any) -> str:
    """The annotation as written (a string under `from __future__ import annotations`)."""
    if annotation is inspect.Parameter.empty:
        return ""
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


def describe(component: Component, plugin: PluginInfo) -> dict[str, Any]:
    """The component as plain data: what `corebp show --json` prints."""
    cls = component.obj
    supplied = SUPPLIED[component.kind]
    meanings = _meanings(cls)
    parameters = inspect.signature(cls).parameters
    arguments = []
    for name, p in parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or name in supplied:
            continue
        arguments.append(
            {
                "name": name,
                "type": _type_name(p.annotation),
                "required": p.default is p.empty,
                "default": None if p.default is p.empty else p.default,
                "meaning": meanings.get(name, ""),
            }
        )
    doc = inspect.getdoc(cls) or ""
    return {
        "name": component.name,
        "kind": component.kind.rstrip("s").replace("_", " "),
        "plugin": component.plugin,
        "distribution": plugin.source.split(" (", 1)[0],
        "version": plugin.version,
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "doc": ARGS_SECTION.split(doc, maxsplit=1)[0].strip(),
        "arguments": arguments,
        "supplied": {n: source for n, source in supplied.items() if n in parameters},
    }


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
            a["meaning"] or "-",
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
    argument a recipe may give it, with type, default and meaning.

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
