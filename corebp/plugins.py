"""Loading plugins from the `corebp` entry-point group and collecting what they register.

Environment:
  COREBP_PLUGINS         comma-separated entry-point names to load (default: all);
                         "none" loads no plugin at all (the core still works).
  COREBP_STRICT_PLUGINS  "1" turns a plugin that fails to load into an error.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import warnings
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pluggy

from corebp import builtin, hookspecs
from corebp.errors import ConfigError, PluginError, did_you_mean

ENTRY_POINT_GROUP = hookspecs.PROJECT
KINDS = ("layers", "losses", "optimizers", "schedules", "metrics", "data_sources")


@dataclass(frozen=True)
class Component:
    """A registered class, with the plugin that provided it."""

    kind: str
    name: str
    obj: Any
    plugin: str


@dataclass(frozen=True)
class PluginInfo:
    """What `corebp plugins` shows about one plugin."""

    name: str
    version: str
    source: str
    hooks: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    error: str | None = None


@dataclass
class Registry:
    """The plugin manager plus every component the loaded plugins registered."""

    pm: pluggy.PluginManager
    plugins: list[PluginInfo] = field(default_factory=list)
    components: dict[str, dict[str, Component]] = field(
        default_factory=lambda: {k: {} for k in KINDS}
    )

    def get(self, kind: str, name: str, *, key: str | None = None) -> Any:
        """The class registered as `name` under `kind`, or a ConfigError naming the choices."""
        found = self.components[kind]
        if name in found:
            return found[name].obj
        where = f"{key}: " if key else ""
        choices = ", ".join(sorted(found)) or "none (is the plugin that provides them loaded?)"
        raise ConfigError(
            f"{where}{name!r} is not a registered {kind.rstrip('s').replace('_', ' ')}; "
            f"expected one of: {choices}.{did_you_mean(name, found)}"
        )

    def names(self, kind: str) -> list[str]:
        return sorted(self.components[kind])


def _strict_default() -> bool:
    return os.environ.get("COREBP_STRICT_PLUGINS", "") not in ("", "0", "false", "no")


def _selected(names: list[str]) -> set[str] | None:
    raw = os.environ.get("COREBP_PLUGINS")
    if raw is None or raw.strip() in ("", "all"):
        return None
    if raw.strip() == "none":
        return set()
    chosen = {n.strip() for n in raw.split(",") if n.strip()}
    unknown = chosen - set(names)
    if unknown:
        raise PluginError(
            f"COREBP_PLUGINS names {', '.join(sorted(unknown))}, which is not an installed plugin; "
            f"installed: {', '.join(sorted(names)) or 'none'}."
        )
    return chosen


def _components_of(plugin_name: str, module: Any) -> list[Component]:
    found = []
    for kind in KINDS:
        impl = getattr(module, f"corebp_register_{kind}", None)
        if impl is not None:
            found += [Component(kind, n, obj, plugin_name) for n, obj in (impl() or {}).items()]
    return found


def _add_components(reg: Registry, found: list[Component]) -> tuple[str, ...]:
    for c in found:
        seen = reg.components[c.kind].get(c.name)
        if seen is not None:
            raise PluginError(
                f"the {c.kind.rstrip('s').replace('_', ' ')} name {c.name!r} is registered by "
                f"both plugin {seen.plugin!r} and plugin {c.plugin!r}; uninstall one, or "
                "limit the loaded plugins with COREBP_PLUGINS."
            )
    for c in found:
        reg.components[c.kind][c.name] = c
    return tuple(f"{c.kind}:{c.name}" for c in found)


def _hooks_of(pm: pluggy.PluginManager, module: Any) -> tuple[str, ...]:
    return tuple(sorted(c.name for c in pm.get_hookcallers(module) or ()))


def load_registry(strict: bool | None = None) -> Registry:
    """Build a fresh plugin manager: the core's own layers, then every selected entry point."""
    strict = _strict_default() if strict is None else strict
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    reg = Registry(pm)

    pm.register(builtin, name="core")
    reg.plugins.append(
        PluginInfo(
            "core",
            md.version("corebp"),
            "corebp (built in)",
            _hooks_of(pm, builtin),
            _add_components(reg, _components_of("core", builtin)),
        )
    )

    eps = sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
    chosen = _selected([ep.name for ep in eps])
    for ep in eps:
        if chosen is not None and ep.name not in chosen:
            continue
        dist = ep.dist
        version = dist.version if dist else "?"
        source = f"{dist.name if dist else '?'} ({ep.value})"
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
            found = _components_of(ep.name, module)
        except Exception as e:  # a broken plugin must not take the program down
            if pm.has_plugin(ep.name):
                pm.unregister(name=ep.name)
            message = f"plugin {ep.name!r} from {source} failed to load: {type(e).__name__}: {e}"
            if strict:
                raise PluginError(
                    message + " (strict mode: unset COREBP_STRICT_PLUGINS or drop --strict-plugins "
                    "to load the others anyway)"
                ) from e
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            reg.plugins.append(PluginInfo(ep.name, version, source, error=str(e) or repr(e)))
            continue
        provided = _add_components(reg, found)
        reg.plugins.append(PluginInfo(ep.name, version, source, _hooks_of(pm, module), provided))
    return reg


@cache
def registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    return load_registry()
