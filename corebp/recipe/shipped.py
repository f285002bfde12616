"""Finding recipes by name: corebp's own and those plugins ship.

corebp's are `corebp/_recipes` in a wheel, `<repo>/recipes` in a checkout; a plugin ships
files through the `corebp_recipe_files()` hook. A recipe's name is its file name without
`.yaml`; the same name from two places is a `PluginError` naming both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import corebp
from corebp.errors import ConfigError, PluginError, did_you_mean
from corebp.plugins import registry

#: The recipe `corebp run` uses when none is named: the notebook, reproduced.
DEFAULT_RECIPE = "mnist-784-100-10"
#: The plugin name corebp's own recipes are listed under (as its own layers are).
CORE = "core"


@dataclass(frozen=True)
class RecipeFile:
    """A recipe runnable by name: its file and the plugin that ships it ("core": corebp)."""

    path: Path
    plugin: str = CORE

    def origin(self) -> str:
        return "corebp" if self.plugin == CORE else f"plugin {self.plugin!r}"


def recipes_dir() -> Path:
    """The folder of shipped recipes (the wheel force-includes recipes/ as corebp/_recipes)."""
    package = Path(corebp.__file__).resolve().parent
    packaged = package / "_recipes"
    return packaged if packaged.is_dir() else package.parent / "recipes"


def shipped_recipes() -> dict[str, Path]:
    """Every recipe corebp itself ships, by name (its file name without .yaml), sorted."""
    return {p.stem: p for p in sorted(recipes_dir().glob("*.yaml"))}


def available_recipes() -> dict[str, RecipeFile]:
    """corebp's recipes and those of every loaded plugin, by name, sorted."""
    found = {name: RecipeFile(path) for name, path in shipped_recipes().items()}
    hook = registry().pm.hook.corebp_recipe_files
    for impl in sorted(hook.get_hookimpls(), key=lambda i: i.plugin_name):
        plugin = impl.plugin_name
        try:
            returned: Any = impl.function()
            paths = [Path(p) for p in returned]
        except Exception as e:  # a broken plugin's hook is reported by name
            raise PluginError(
                f"plugin {plugin!r}: corebp_recipe_files() failed: {type(e).__name__}: {e}; "
                "it must return a list of paths to .yaml files."
            ) from e
        for path in paths:
            if path.suffix not in (".yaml", ".yml") or not path.is_file():
                raise PluginError(
                    f"plugin {plugin!r} ships the recipe {str(path)!r}, which is not an existing "
                    ".yaml file; fix the paths its corebp_recipe_files() returns."
                )
            seen = found.get(path.stem)
            if seen is not None:
                raise PluginError(
                    f"the recipe name {path.stem!r} is shipped by both {seen.origin()} "
                    f"({seen.path}) and plugin {plugin!r} ({path}); rename one of the files, or "
                    "limit the loaded plugins with COREBP_PLUGINS."
                )
            found[path.stem] = RecipeFile(path, plugin)
    return dict(sorted(found.items()))


def description(path: Path) -> str:
    """The recipe's one-line description: its first comment line."""
    with path.open(encoding="utf-8") as f:
        for line in f:
            text = line.strip()
            if text.startswith("#") and text.lstrip("#").strip():
                return text.lstrip("#").strip()
            if text and not text.startswith("#"):
                break
    return ""


def find_recipe(name_or_path: str) -> Path:
    """A recipe by name (corebp's or a plugin's), or a YAML file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.parent != Path("."):
        if _is_file(path):
            return path
        if _is_dir(path):
            raise ConfigError(
                f"recipe file {name_or_path!r} is a folder; expected a .yaml file (or the name "
                "of a shipped recipe, see `corebp recipes`)."
            )
        raise ConfigError(
            f"recipe file {name_or_path!r} does not exist; give an existing .yaml path or the "
            "name of a shipped recipe (list them with `corebp recipes`)."
        )
    available = available_recipes()
    if name_or_path in available:
        return available[name_or_path].path
    if _is_file(path):
        return path
    raise ConfigError(
        f"{name_or_path!r} is neither a shipped recipe nor a file; expected one of: "
        f"{', '.join(available) or 'none found in ' + str(recipes_dir())}, or a path to a .yaml "
        f"file.{did_you_mean(name_or_path, available)}"
    )


def _is_file(path: Path) -> bool:
    """`path.is_file()`, False also for a name the OS refuses (too long, say)."""
    try:
        return path.is_file()
    except OSError:
        return False


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False
