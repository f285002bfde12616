"""`corebp plugins`: list every plugin, the hooks it implements and the components it provides."""

from __future__ import annotations

import json
import warnings
from typing import Annotated, Any

import typer

from corebp.plugins import PluginInfo, load_registry


def _grouped(info: PluginInfo) -> dict[str, list[str]]:
    """{kind: sorted names} from the "kind:name" strings of a plugin."""
    grouped: dict[str, list[str]] = {}
    for entry in info.components:
        kind, name = entry.split(":", 1)
        grouped.setdefault(kind, []).append(name)
    return {kind: sorted(names) for kind, names in grouped.items()}


def _as_dict(info: PluginInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "version": info.version,
        "source": info.source,
        "location": info.location,
        "hooks": list(info.hooks),
        "components": _grouped(info),
        "error": info.error,
    }


def _as_text(info: PluginInfo) -> str:
    lines = [f"{info.name} {info.version}  from {info.source}"]
    if info.error is not None:
        lines.append(f"  BROKEN: {info.error}")
        return "\n".join(lines)
    if info.location:
        lines.append(f"  location:     {info.location}")
    lines.append(f"  hooks:        {', '.join(info.hooks) or '-'}")
    for kind, names in _grouped(info).items():
        lines.append(f"  {kind + ':':<13} {', '.join(names)}")
    return "\n".join(lines)


def command(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list, one object per plugin.")
    ] = False,
) -> None:
    """List installed plugins: name, version, where each came from, hooks and components.

    A plugin that fails to load is listed with its error and the command still succeeds;
    with --strict-plugins (or COREBP_STRICT_PLUGINS=1) it is an error instead.
    COREBP_PLUGINS=optim,metrics limits which plugins load; COREBP_PLUGINS=none loads none.

    Examples:

      corebp plugins

      corebp plugins --json

      COREBP_PLUGINS=optim corebp plugins
    """
    with warnings.catch_warnings():
        # Broken plugins are listed below with their error; the load warning would repeat it.
        warnings.simplefilter("ignore", RuntimeWarning)
        reg = load_registry()
    if as_json:
        typer.echo(json.dumps([_as_dict(p) for p in reg.plugins], indent=2))
    else:
        typer.echo("\n\n".join(_as_text(p) for p in reg.plugins))
