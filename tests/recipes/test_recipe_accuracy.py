"""Recipe headers quote the accuracy benchmarks/recipe_accuracy.py measured, word for word."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from corebp.recipe import shipped_recipes

ROOT = Path(__file__).parents[2]
spec = importlib.util.spec_from_file_location(
    "recipe_accuracy", ROOT / "benchmarks/recipe_accuracy.py"
)
assert spec is not None and spec.loader is not None
measured = importlib.util.module_from_spec(spec)
spec.loader.exec_module(measured)
RESULTS = json.loads((ROOT / "benchmarks/recipe_accuracy.json").read_text())


@pytest.mark.parametrize("key", sorted(RESULTS))
def test_the_recipe_header_states_the_measured_accuracy(key: str) -> None:
    entry = RESULTS[key]
    assert len(entry["runs"]) == len(entry["final_test_accuracy"]["seeds"])
    header = shipped_recipes()[entry["recipe"]].read_text()
    assert measured.header_line(entry) in header.splitlines()


@pytest.mark.parametrize("name", ["mnist-lenet5", "mnist-lenet5-batchnorm"])
def test_the_image_recipes_are_measured(name: str) -> None:
    assert any(e["recipe"] == name for e in RESULTS.values())
