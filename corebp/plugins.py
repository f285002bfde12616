"""Loading plugins from the `corebp` entry-point group and collecting what they register.

The core's own layers and losses (`corebp.builtin`) are registered first, through the same
hooks; then every entry point of the group, sorted by name. A plugin that fails to import or
register is reported (a warning naming it and the error, and an entry with `error` set in
`Registry.plugins`) and skipped; in strict mode that is a `PluginError` instead. Two plugins
registering the same name for the same kind is always a `PluginError` naming both.

Environment:
  COREBP_PLUGINS         comma-separated entry-point names to load (default: all);
                         "none" loads no plugin at all (the core still works).
  COREBP_STRICT_PLUGINS  "1" turns a plugin that fails to load into an error
                         (`corebp --strict-plugins` sets it).
"""

from __future__ import annotations

import importlib.metadata as md
import os
import traceback
import warnings
from dataclasses import dataclass, field
from functools import cache
from typing import Any, NoReturn

import pluggy

from corebp import hookspecs
from corebp.errors import ConfigError, CorebpError, PluginError, clip, did_you_mean
from corebp.util.env import env_flag

ENTRY_POINT_GROUP = hookspecs.PROJECT
#: The name of every hook.
HOOKS = tuple(name for name in vars(hookspecs) if name.startswith(f"{hookspecs.PROJECT}_"))
#: Each kind of component, registered by the hook `corebp_register_<kind>`.
KINDS = (
    "layers",
    "losses",
    "optimizers",
    "schedules",
    "metrics",
    "data_sources",
    "learning_rules",
    "loggers",
    "launchers",
)


def _base_classes() -> dict[str, type]:
    """Each kind's base class, which the classes registered for it must subclass (imported
    here: the contracts import torch, and `corebp --help` imports this module)."""
    from corebp.contracts.data_source import DataSource
    from corebp.contracts.launcher import Launcher
    from corebp.contracts.layer import Layer
    from corebp.contracts.learning_rule import LearningRule
    from corebp.contracts.logger import Logger
    from corebp.contracts.loss import Loss
    from corebp.contracts.metric import Metric
    from corebp.contracts.optimizer import Optimizer
    from corebp.contracts.schedule import Schedule

    return {
        "layers": Layer,
        "losses": Loss,
        "optimizers": Optimizer,
        "schedules": Schedule,
        "metrics": Metric,
        "data_sources": DataSource,
        "learning_rules": LearningRule,
        "loggers": Logger,
        "launchers": Launcher,
    }


@dataclass(frozen=True)
class Component:
    """A registered class, with the plugin that provided it."""

    kind: str
    name: str
    obj: Any
    plugin: str


@dataclass(frozen=True)
class PluginInfo:
    """What `corebp plugins` shows about one plugin.

    `source` is "<distribution> (<entry point value>)"; `location` the file it was loaded
    from; `components` are "kind:name" strings; `error` is the load-failure message, if any.
    """

    name: str
    version: str
    source: str
    location: str = ""
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
        found = self._kind(kind)
        if name in found:
            return found[name].obj
        where = f"{key}: " if key else ""
        choices = ", ".join(sorted(found)) or "none (is the plugin that provides them loaded?)"
        raise ConfigError(
            f"{where}{clip(repr(name))} is not a registered {_singular(kind)}; "
            f"expected one of: {choices}.{did_you_mean(name, found)}"
        )

    def find(self, name: str, kind: str | None = None) -> Component:
        """The component registered as `name` (under `kind`, or under whichever kind has it)."""
        if kind is not None:
            self.get(kind, name)
            return self.components[kind][name]
        found = [c[name] for c in self.components.values() if name in c]
        if len(found) > 1:
            kinds = ", ".join(c.kind for c in found)
            raise ConfigError(
                f"{name!r} names a component of several kinds ({kinds}); say which one, "
                f"e.g. `corebp show {name} --kind {found[0].kind}`."
            )
        if not found:
            known = sorted({n for c in self.components.values() for n in c})
            raise ConfigError(
                f"{clip(repr(name))} is not a registered component; expected one of: "
                f"{', '.join(known)}.{did_you_mean(name, known)}"
            )
        return found[0]

    def names(self, kind: str) -> list[str]:
        """The registered names of one kind, sorted."""
        return sorted(self._kind(kind))

    def run_events(self, run: hookspecs.TrainingRun) -> pluggy.PluginManager:
        """A plugin manager for one run: every loaded plugin, plus the listeners they return
        from `corebp_run_listeners(run)`, registered as "<plugin>/<class>/<n>"."""
        pm = pluggy.PluginManager(hookspecs.PROJECT)
        pm.add_hookspecs(hookspecs)
        for name, plugin in self.pm.list_name_plugin():
            pm.register(plugin, name=name)
        try:
            for impl in self.pm.hook.corebp_run_listeners.get_hookimpls():
                listeners = impl.function(**{name: run for name in impl.argnames})
                if not isinstance(listeners, list):
                    raise PluginError(
                        f"plugin {impl.plugin_name!r}: corebp_run_listeners returned "
                        f"{type(listeners).__name__}; expected a list of listener objects."
                    )
                for i, listener in enumerate(listeners):
                    pm.register(listener, name=f"{impl.plugin_name}/{type(listener).__name__}/{i}")
        except Exception as e:
            self.raise_from_hook(e, self.pm)
        return pm

    def raise_from_hook(self, error: Exception, pm: pluggy.PluginManager) -> NoReturn:
        """Raise `error`, as a PluginError naming the plugin, its distribution and the hook when
        it came from a hook implementation registered in `pm` (a CorebpError, which already
        says what is wrong, is raised as it is)."""
        culprit = None if isinstance(error, CorebpError) else _culprit(error, pm)
        if culprit is None:
            raise error
        plugin, hook = culprit
        owner = plugin.split("/", 1)[0]
        source = next((p.source for p in self.plugins if p.name == owner), "an unknown source")
        raise PluginError(
            f"plugin {owner!r} from {source} failed in hook {hook}: {type(error).__name__}: "
            f"{error}. Fix or uninstall the plugin, or leave it out with COREBP_PLUGINS "
            "(run with --debug or COREBP_DEBUG=1 for the traceback)."
        ) from error

    def _kind(self, kind: str) -> dict[str, Component]:
        if kind not in self.components:
            raise ConfigError(
                f"{kind!r} is not a kind of component; expected one of: "
                f"{', '.join(KINDS)}.{did_you_mean(kind, KINDS)}"
            )
        return self.components[kind]


def _singular(kind: str) -> str:
    return kind.rstrip("s").replace("_", " ")


def _culprit(error: BaseException, pm: pluggy.PluginManager) -> tuple[str, str] | None:
    """(plugin name, hook name) of the outermost hook implementation in `error`'s traceback."""
    codes: dict[Any, tuple[str, str]] = {}
    for hook in HOOKS:
        for impl in getattr(pm.hook, hook).get_hookimpls():
            codes.setdefault(getattr(impl.function, "__code__", None), (impl.plugin_name, hook))
    for frame, _ in traceback.walk_tb(error.__traceback__):
        if frame.f_code in codes:
            return codes[frame.f_code]
    return None


def _selected(names: list[str]) -> set[str] | None:
    """The entry-point names COREBP_PLUGINS asks for; None means all."""
    raw = os.environ.get("COREBP_PLUGINS", "").strip()
    if raw in ("", "all"):
        return None
    if raw == "none":
        return set()
    chosen = {n.strip() for n in raw.split(",") if n.strip()}
    for unknown in sorted(chosen - set(names)):
        raise PluginError(
            f"COREBP_PLUGINS names {unknown!r}, which is not an installed plugin; installed: "
            f"{', '.join(sorted(names)) or 'none'}.{did_you_mean(unknown, names)}"
        )
    return chosen


def _components_of(pm: pluggy.PluginManager, plugin: str) -> list[Component]:
    """Call the registration hooks of one registered plugin and check what they return."""
    found = []
    for kind, base in _base_classes().items():
        hook = getattr(pm.hook, f"corebp_register_{kind}")
        for impl in hook.get_hookimpls():
            if impl.plugin_name != plugin:
                continue
            provided = impl.function()
            if not isinstance(provided, dict):
                raise TypeError(
                    f"{hook.name}() returned {type(provided).__name__}; expected a dict "
                    "{name: class}"
                )
            for name, obj in provided.items():
                if not (isinstance(obj, type) and issubclass(obj, base)):
                    raise TypeError(
                        f"{hook.name}() registers {name!r} as {obj!r}; expected a subclass "
                        f"of corebp.{base.__name__}"
                    )
                found.append(Component(kind, name, obj, plugin))
    return found


def _add_components(reg: Registry, found: list[Component]) -> tuple[str, ...]:
    for c in found:
        seen = reg.components[c.kind].get(c.name)
        if seen is not None:
            raise PluginError(
                f"the {_singular(c.kind)} name {c.name!r} is registered by both plugin "
                f"{seen.plugin!r} and plugin {c.plugin!r}; uninstall one, or limit the loaded "
                "plugins with COREBP_PLUGINS."
            )
    for c in found:
        reg.components[c.kind][c.name] = c
    return tuple(f"{c.kind}:{c.name}" for c in found)


def _hooks_of(pm: pluggy.PluginManager, module: Any) -> tuple[str, ...]:
    return tuple(sorted(c.name for c in pm.get_hookcallers(module) or ()))


def load_registry(strict: bool | None = None, *, components: bool = True) -> Registry:
    """Build a fresh plugin manager: the core's own layers, then every selected entry point.

    `strict` (default: COREBP_STRICT_PLUGINS) makes a plugin that fails to import or register
    raise `PluginError` instead of being skipped with a warning. `components=False` loads the
    plugins for their commands only (what `corebp --help` needs): the core's own plugin is
    left out and no plugin is asked for its components, so nothing but the plugins' packages
    is imported (no torch, for the first-party ones).
    """
    strict = env_flag("COREBP_STRICT_PLUGINS") if strict is None else strict
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    reg = Registry(pm)

    if components:
        from corebp import builtin  # imports every layer and loss, hence torch

        pm.register(builtin, name="core")
        reg.plugins.append(
            PluginInfo(
                "core",
                md.version("corebp"),
                "corebp (built in)",
                builtin.__file__ or "",
                _hooks_of(pm, builtin),
                _add_components(reg, _components_of(pm, "core")),
            )
        )

    eps = sorted(set(md.entry_points(group=ENTRY_POINT_GROUP)), key=lambda e: (e.name, e.value))
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
            found = _components_of(pm, ep.name) if components else []
        except Exception as e:  # a broken plugin must not take the program down
            if pm.has_plugin(ep.name):
                pm.unregister(name=ep.name)
            message = f"plugin {ep.name!r} from {source} failed to load: {type(e).__name__}: {e}"
            if strict:
                raise PluginError(
                    f"{message} (strict mode: unset COREBP_STRICT_PLUGINS or drop "
                    "--strict-plugins to skip broken plugins with a warning)"
                ) from e
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            reg.plugins.append(PluginInfo(ep.name, version, source, error=message))
            continue
        provided = _add_components(reg, found)
        location = getattr(module, "__file__", None) or ""
        reg.plugins.append(
            PluginInfo(ep.name, version, source, location, _hooks_of(pm, module), provided)
        )
    return reg


@cache
def registry() -> Registry:
    """The process-wide registry, loaded on first use (`registry.cache_clear()` reloads)."""
    return load_registry()
