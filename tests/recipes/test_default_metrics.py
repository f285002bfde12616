"""A recipe without `metrics` reports loss and accuracy; `metrics: []` keeps a run blind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from corebp.errors import ConfigError
from corebp.plugins import load_registry
from corebp.recipe import load_recipe
from corebp.recipe.load import validate_recipe
from corebp.training.run import run_recipe
from tests.recipes.conftest import SYNTHETIC_RECIPE

WITHOUT_METRICS = SYNTHETIC_RECIPE.replace("metrics: [loss, accuracy]\n", "")
DOCS = Path(__file__).parents[2] / "docs"


def _recipe(tmp_path: Path, text: str) -> str:
    path = tmp_path / "spirals.yaml"
    path.write_text(text)
    return str(path)


def test_a_recipe_without_metrics_reports_and_plots_loss_and_accuracy(tmp_path: Path, capsys):
    loaded = load_recipe(_recipe(tmp_path, WITHOUT_METRICS), ["checks.autograd=null"])
    assert [m.type for m in loaded.recipe.metrics] == ["loss", "accuracy"]
    out, summary = run_recipe(loaded, tmp_path / "run")
    assert {"train_loss", "train_accuracy", "test_loss", "test_accuracy"} <= summary.keys()
    assert (out / "loss.png").is_file() and (out / "accuracy.png").is_file()
    assert yaml.safe_load((out / "recipe.yaml").read_text())["metrics"] == [
        {"type": "loss"},
        {"type": "accuracy"},
    ]
    epoch_line = capsys.readouterr().err.splitlines()[-1]
    assert "train_loss" in epoch_line and "test_accuracy" in epoch_line


def test_an_empty_metrics_list_keeps_the_run_blind(tmp_path: Path):
    loaded = load_recipe(_recipe(tmp_path, WITHOUT_METRICS), ["metrics=[]", "train.epochs=1"])
    out, summary = run_recipe(loaded, tmp_path / "run")
    assert not any(k.endswith(("_loss", "_accuracy")) for k in summary)
    assert {p.name for p in out.glob("*.png")} == {"weights.png"}


def test_without_the_metrics_plugin_the_missing_defaults_are_named(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("COREBP_PLUGINS", "data,optim")
    reg = load_registry()
    with pytest.raises(ConfigError, match=r"metrics: not given, so the default metrics loss, "):
        load_recipe(_recipe(tmp_path, WITHOUT_METRICS), reg=reg)
    load_recipe(_recipe(tmp_path, WITHOUT_METRICS), ["metrics=[]"], reg=reg)


def test_the_learning_rules_diagnostics_example_reports_loss_and_accuracy():
    text = (DOCS / "learning-rules.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if "alignment:" in b]
    raw = yaml.safe_load(block)
    assert "metrics" not in raw, "the example shows the default; update this test if not"
    recipe = validate_recipe(raw, "docs/learning-rules.md")
    assert [m.type for m in recipe.metrics] == ["loss", "accuracy"]


@pytest.mark.mnist
def test_the_diagnostics_example_trained_prints_and_draws_loss_and_accuracy(
    tmp_path: Path, corebp_cli
):
    text = (DOCS / "learning-rules.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", text, flags=re.S) if "alignment:" in b]
    recipe = tmp_path / "diagnostics.yaml"
    recipe.write_text(block)
    short = ["train.epochs=1", "data.validation_split=0.99", "train.device=cpu"]
    code, out, err = corebp_cli("run", str(recipe), *short, "-o", str(tmp_path / "run"))
    assert code == 0, err
    assert "test loss" in out and "test accuracy" in out
    assert "train_loss" in err and "val_accuracy" in err
    assert {"loss.png", "accuracy.png", "alignment.png"} <= {
        p.name for p in (tmp_path / "run").glob("*.png")
    }
