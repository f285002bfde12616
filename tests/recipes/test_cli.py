"""`corebp run`, `validate` and `recipes`: what a person at a terminal sees."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from corebp.cli import main, recipes, run, validate
from corebp.errors import ConfigError
from corebp.recipe import shipped_recipes
from corebp.recipe.shipped import description

app = typer.Typer()
app.command("run")(run.command)
app.command("validate")(validate.command)
app.command("recipes")(recipes.command)
runner = CliRunner()


def test_recipes_lists_every_shipped_recipe_with_its_description():
    result = runner.invoke(app, ["recipes"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    for name, path in shipped_recipes().items():
        assert any(line.startswith(name + " ") and description(path) in line for line in lines)


def test_validate_prints_the_model_of_a_valid_recipe():
    result = runner.invoke(app, ["validate", "mnist-784-100-10", "train.epochs=1"])
    assert result.exit_code == 0, result.output
    assert "mnist-784-100-10: valid" in result.output
    assert "Linear(784 -> 100, bias=False)" in result.output


def test_validate_raises_one_config_error_for_a_bad_value():
    result = runner.invoke(app, ["validate", "mnist-784-100-10", "optimizer.lr=abc"])
    assert isinstance(result.exception, ConfigError)
    assert "optimizer.lr: 'abc' is not a valid number" in str(result.exception)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("model.2.in_features=50", "layer 2"),  # 784→100 then 50→10: the widths do not chain
        ("model.2.out_features=9", "the data has 10 classes"),
    ],
)
def test_validate_pushes_one_mnist_example_through_the_model_as_run_does(override, expected):
    result = runner.invoke(app, ["validate", "mnist-784-100-10", override])
    assert isinstance(result.exception, ConfigError), result.output
    assert expected in str(result.exception)


def test_run_takes_overrides_without_a_recipe_name_and_writes_the_run(
    synthetic_recipe: Path, tmp_path: Path
):
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", str(synthetic_recipe), "train.epochs=1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "autograd check passed" in result.output and str(out) in result.output
    assert json.loads((out / "summary.json").read_text())["epochs"] == 1


def test_every_subcommand_help_has_examples():
    for name in ("run", "validate", "recipes"):
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0 and "Examples" in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["run", "mnist-784-100-10", "optimizer.lr=abc"],
            "optimizer.lr: 'abc' is not a valid number",
        ),
        (["validate", "mnist-784-100-10", "optimiser.lr=0.1"], "Did you mean 'optimizer'?"),
    ],
)
def test_the_command_exits_2_with_the_problem_and_no_traceback(args, expected, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "corebp", *args], capture_output=True, text=True, cwd=tmp_path
    )
    assert proc.returncode == 2
    assert expected in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists(), "nothing is written for an invalid recipe"


def test_check_lists_the_notebooks_as_written_rule_as_differing_not_failing():
    result = runner.invoke(main.build(), ["check", "sigmoid_as_written", "sigmoid", "--json"])
    assert result.exit_code == 0, result.output
    status = {d["name"]: d["status"] for d in json.loads(result.output)}
    assert status == {"sigmoid_as_written": "differs, as declared", "sigmoid": "ok"}
