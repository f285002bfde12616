"""Finding shipped recipes: `corebp/_recipes` in a wheel, `<repo>/recipes` in a checkout."""

from __future__ import annotations

from pathlib import Path

import corebp
from corebp.errors import ConfigError, did_you_mean

#: The recipe `corebp run` uses when none is named: the notebook, reproduced.
DEFAULT_RECIPE = "mnist-784-100-10"


def recipes_dir() -> Path:
    """The folder of shipped recipes (the wheel force-includes recipes/ as corebp/_recipes)."""
    package = Path(corebp.__file__).resolve().parent
    packaged = package / "_recipes"
    return packaged if packaged.is_dir() else package.parent / "recipes"


def shipped_recipes() -> dict[str, Path]:
    """Every shipped recipe, by name (its file name without .yaml), sorted."""
    return {p.stem: p for p in sorted(recipes_dir().glob("*.yaml"))}


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
    """A shipped recipe by name, or a YAML file by path."""
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
    shipped = shipped_recipes()
    if name_or_path in shipped:
        return shipped[name_or_path]
    if _is_file(path):
        return path
    raise ConfigError(
        f"{name_or_path!r} is neither a shipped recipe nor a file; expected one of: "
        f"{', '.join(shipped) or 'none found in ' + str(recipes_dir())}, or a path to a .yaml "
        f"file.{did_you_mean(name_or_path, shipped)}"
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
