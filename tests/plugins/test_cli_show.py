"""`corebp show NAME`: kind, plugin, distribution and version, docstring and every argument."""

from __future__ import annotations

import importlib.metadata as md
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corebp.cli.main import build
from corebp.errors import ConfigError

MakePlugin = Callable[[str, str], Path]  # the `make_plugin` fixture of conftest.py
runner = CliRunner()
SGD_DEFAULTS = {
    "lr": 0.1,
    "momentum": 0.0,
    "dampening": 0.0,
    "nesterov": False,
    "weight_decay": 0.0,
}


pytestmark = pytest.mark.usefixtures("fresh_registry")


def _show(*args: str) -> str:
    result = runner.invoke(build(), ["show", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_show_sgd_lists_every_argument_with_type_default_and_meaning() -> None:
    text = _show("sgd")
    assert text.startswith("sgd: optimizer corebp_optim.sgd.SGD\n")
    assert f"from plugin 'optim', distribution corebp {md.version('corebp')}" in text
    assert "The update of `torch.optim.SGD`" in text
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.startswith("  ")}
    for name, default in SGD_DEFAULTS.items():
        assert rows[name][2] == repr(default), rows[name]
    assert rows["nesterov"][1] == "bool" and rows["lr"][1] == "float"
    assert "the learning rate η." in text
    assert "supplied by corebp, not the recipe: params (from the model)" in text


def test_show_sgd_json_has_the_same_facts() -> None:
    shown = json.loads(_show("sgd", "--json"))
    assert shown["kind"] == "optimizer"
    assert (shown["plugin"], shown["distribution"]) == ("optim", "corebp")
    assert shown["version"] == md.version("corebp")
    assert {a["name"]: a["default"] for a in shown["arguments"]} == SGD_DEFAULTS
    assert all(a["meaning"] and not a["required"] for a in shown["arguments"])
    assert shown["supplied"] == {"params": "the model", "grads": "the model"}


def test_show_a_plugins_component_names_its_distribution_and_version() -> None:
    shown = json.loads(_show("lion", "--json"))
    assert shown["distribution"] == "corebp-example-plugin"
    assert shown["version"] == md.version("corebp-example-plugin") == "0.1.0"
    betas = next(a for a in shown["arguments"] if a["name"] == "betas")
    assert betas["type"] == "tuple[float, float]" and betas["default"] == [0.9, 0.99]


def test_a_required_argument_shows_as_required_and_help_has_examples() -> None:
    rows = [line.split() for line in _show("linear").splitlines() if line.startswith("  ")]
    assert ["in_features", "int", "required"] in [row[:3] for row in rows]
    assert "Examples" in _show("--help")


def test_an_unknown_name_is_a_config_error_suggesting_the_nearest() -> None:
    result = runner.invoke(build(), ["show", "sdg"])
    assert isinstance(result.exception, ConfigError)
    assert "'sdg' is not a registered component; expected one of: " in str(result.exception)
    assert "'sgd'" in str(result.exception).split("expected one of")[1]


def test_a_name_of_two_kinds_asks_for_the_kind(make_plugin: MakePlugin) -> None:
    make_plugin(
        "twin",
        """
        import corebp

        class Sgd(corebp.Layer):
            pass

        @corebp.hookimpl
        def corebp_register_layers():
            return {"sgd": Sgd}
        """,
    )
    result = runner.invoke(build(), ["show", "sgd"])
    assert isinstance(result.exception, ConfigError)
    assert "'sgd' names a component of several kinds (layers, optimizers)" in str(result.exception)
    assert json.loads(_show("sgd", "--kind", "optimizers", "--json"))["plugin"] == "optim"
