"""A third-party learning rule written from docs/learning-rules.md alone: the doc's module and
pyproject.toml become a distribution, pip installs it, corebp finds the rule through its entry
point, a recipe trains with it, and the conformance kit passes on it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from corebp.recipe import load_recipe
from corebp.training.trainer import Trainer
from tests.recipes.conftest import SYNTHETIC_RECIPE

DOC = Path(__file__).parents[2] / "docs" / "learning-rules.md"


def doc_files() -> dict[str, str]:
    """The files the doc's "Writing a rule as a plugin" section gives, by name."""
    section = DOC.read_text(encoding="utf-8").split("## Writing a rule as a plugin")[1]
    section = section.split("\n## ")[0]
    module = re.search(r"```python\n(# my_rule\.py\n.*?)```", section, re.S)
    project = re.search(r"```toml\n(.*?)```", section, re.S)
    assert module and project, "the doc no longer shows my_rule.py and its pyproject.toml"
    return {"my_rule.py": module.group(1), "pyproject.toml": project.group(1)}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The doc's distribution, pip-installed into a folder of its own: the environment in
    which a `corebp` process sees it (and nothing else changes)."""
    root = tmp_path_factory.mktemp("third-party-rule")
    source = root / "my-rule"
    source.mkdir()
    for name, text in doc_files().items():
        (source / name).write_text(text, encoding="utf-8")
    site = root / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    pip += ["--no-build-isolation", "--target", str(site), str(source)]
    proc = subprocess.run(pip, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list(site.glob("my_rule-0.1.0.dist-info/entry_points.txt"))
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    )
    return env


def corebp(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "corebp", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=cwd,
    )


def test_the_rule_is_found_through_its_entry_point(installed):
    proc = corebp(installed, "plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    plugins = {p["name"]: p for p in json.loads(proc.stdout)}
    assert plugins["my_rule"]["error"] is None
    assert plugins["my_rule"]["components"] == {"learning_rules": ["last_layer_only"]}
    assert "my-rule" in plugins["my_rule"]["source"]
    without = json.loads(corebp(dict(os.environ), "plugins", "--json").stdout)
    assert "my_rule" not in {p["name"] for p in without}


def test_a_recipe_trains_with_the_rule_and_only_the_last_layer_learns(installed, tmp_path):
    recipe = tmp_path / "spirals.yaml"
    recipe.write_text(SYNTHETIC_RECIPE)
    initial = Trainer(load_recipe(str(recipe))).model.params  # the same for every rule
    runs = {}
    for rule in ("last_layer_only", "backprop"):
        out = tmp_path / rule
        proc = corebp(installed, "run", str(recipe), f"learning_rule.type={rule}", "-o", str(out))
        assert proc.returncode == 0, proc.stderr
        summary = json.loads((out / "summary.json").read_text())
        assert summary["status"] == "completed" and summary["steps"] > 0
        runs[rule] = torch.load(out / "checkpoint.pt", weights_only=True)["model"]
    mine, backprop = runs["last_layer_only"], runs["backprop"]
    assert torch.equal(mine["0.W"], initial["0.W"])  # no error reached the first layer
    assert not torch.equal(mine["2.W"], initial["2.W"])  # the last layer learnt
    assert not torch.equal(backprop["0.W"], initial["0.W"])  # under backprop both do


def test_the_conformance_kit_passes_on_the_rule(installed, tmp_path):
    (tmp_path / "test_my_rule.py").write_text(
        "def test_rule(corebp_conformance):\n    corebp_conformance('last_layer_only')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=installed,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout
