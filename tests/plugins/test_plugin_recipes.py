"""Plugins ship recipes through corebp_recipe_files(): listed, run by name, clashes are errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corebp.cli.main import build
from corebp.errors import PluginError
from corebp.recipe.shipped import available_recipes, description

MakePlugin = Callable[[str, str], Path]  # the `make_plugin` fixture of conftest.py
EXAMPLE_RECIPE = "spirals-swish-lion"


# Recipes come from the cached registry: reload it around each test.
pytestmark = pytest.mark.usefixtures("fresh_registry")


def _ships(make_plugin: MakePlugin, name: str, recipe: str) -> Path:
    """Install plugin `name` shipping one recipe file called `recipe`.yaml."""
    folder = make_plugin(
        name,
        f"""
        from pathlib import Path
        import corebp

        @corebp.hookimpl
        def corebp_recipe_files():
            return [Path(__file__).parent / "{name}-recipes" / "{recipe}.yaml"]
        """,
    )
    (folder / f"{name}-recipes").mkdir()
    (folder / f"{name}-recipes" / f"{recipe}.yaml").write_text("# A clash.\nmodel: []\n")
    return folder


def test_the_example_plugins_recipe_is_listed_with_its_plugin() -> None:
    result = CliRunner().invoke(build(), ["recipes"])
    assert result.exit_code == 0, result.output
    path = available_recipes()[EXAMPLE_RECIPE].path
    line = next(x for x in result.output.splitlines() if x.startswith(EXAMPLE_RECIPE + " "))
    assert line.split()[1] == "example" and description(path) in line
    assert path.parent.name == "recipes" and path.parent.parent.name == "corebp_example"


def test_the_example_plugins_recipe_runs_by_name(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(build(), ["run", EXAMPLE_RECIPE, "train.epochs=1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "autograd check passed" in result.output
    resolved = (out / "recipe.yaml").read_text()
    assert "type: lion" in resolved and "type: swish" in resolved
    assert json.loads((out / "summary.json").read_text())["epochs"] == 1


def test_a_plugin_recipe_named_like_corebps_is_an_error_naming_both(
    make_plugin: MakePlugin,
) -> None:
    _ships(make_plugin, "clash", "mnist-784-100-10")
    with pytest.raises(PluginError) as info:
        available_recipes()
    message = str(info.value)
    assert "the recipe name 'mnist-784-100-10' is shipped by both corebp (" in message
    assert "and plugin 'clash' (" in message and "rename one of the files" in message


def test_two_plugins_shipping_one_recipe_name_is_an_error_naming_both(
    make_plugin: MakePlugin,
) -> None:
    _ships(make_plugin, "first", "same-name")
    _ships(make_plugin, "second", "same-name")
    with pytest.raises(PluginError, match=r"by both plugin 'first' \(.*\) and plugin 'second'"):
        available_recipes()


def test_a_shipped_path_that_is_no_yaml_file_is_an_error_naming_the_plugin(
    make_plugin: MakePlugin,
) -> None:
    make_plugin(
        "missing",
        """
        import corebp

        @corebp.hookimpl
        def corebp_recipe_files():
            return ["/nonexistent/recipe.yaml"]
        """,
    )
    with pytest.raises(PluginError, match=r"plugin 'missing' ships the recipe '/nonexistent/re"):
        available_recipes()


def test_corebp_recipes_exits_2_on_a_clash_without_a_traceback(make_plugin: MakePlugin) -> None:
    folder = _ships(make_plugin, "clash", "mnist-784-100-10")
    env = {**os.environ, "PYTHONPATH": str(folder)}
    done = subprocess.run(
        [sys.executable, "-m", "corebp", "recipes"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith("corebp: error: the recipe name 'mnist-784-100-10'")
    assert "Traceback" not in done.stderr
