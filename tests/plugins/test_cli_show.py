"""`corebp show NAME`: kind, plugin, distribution and version, docstring and every argument."""

from __future__ import annotations

import importlib.metadata as md
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from corebp_rules.feedback import CONVENTIONS
from typer.testing import CliRunner

from corebp.cli.main import build
from corebp.contracts.loss import REDUCTIONS
from corebp.errors import ConfigError
from corebp.layers.init import INITIALISERS
from corebp.plugins import load_registry

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


def _first_party() -> list:
    """(kind, name) of every component the corebp distribution registers (core and plugins/)."""
    reg = load_registry()
    ours = {p.name for p in reg.plugins if p.source.split(" (", 1)[0] == "corebp"}
    return [
        pytest.param(kind, name, id=f"{kind}:{name}")
        for kind, components in reg.components.items()
        for name, component in sorted(components.items())
        if component.plugin in ours
    ]


#: Arguments that take one of a fixed set, and the set the code checks them against.
CHOICES = (
    [("layers", name, "init", tuple(INITIALISERS)) for name in ("linear", "conv2d")]
    + [("losses", name, "reduction", REDUCTIONS) for name in ("bce", "cross_entropy", "mse")]
    + [("learning_rules", "drtp", "reduction", REDUCTIONS)]
    + [
        ("learning_rules", name, "convention", CONVENTIONS)
        for name in ("fa", "dfa", "usf", "frsf", "brsf", "kp", "wm")
    ]
)


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


@pytest.mark.parametrize(("kind", "name"), _first_party())
def test_every_argument_of_every_first_party_component_has_a_meaning(kind: str, name: str) -> None:
    shown = json.loads(_show(name, "--kind", kind, "--json"))
    undocumented = [a["name"] for a in shown["arguments"] if not a["meaning"].strip()]
    assert not undocumented, f"{kind} {name!r}: describe {undocumented} in its Args: section"


@pytest.mark.parametrize(
    ("kind", "name", "argument", "values"), [pytest.param(*c, id=f"{c[1]}.{c[2]}") for c in CHOICES]
)
def test_an_argument_of_a_fixed_set_shows_the_values_the_code_accepts(
    kind: str, name: str, argument: str, values: tuple[str, ...]
) -> None:
    shown = json.loads(_show(name, "--kind", kind, "--json"))
    found = next(a for a in shown["arguments"] if a["name"] == argument)
    assert (found["type"], found["allowed"]) == ("str", list(values))
    row = next(
        line for line in _show(name, "--kind", kind).splitlines() if f"  {argument} " in line
    )
    assert row.endswith(f"One of: {', '.join(values)}."), row


def test_linear_init_shows_its_meaning_and_every_initialiser() -> None:
    row = next(line for line in _show("linear").splitlines() if line.startswith("  init "))
    assert row.split()[:3] == ["init", "str", "'uniform'"]
    assert "how W is drawn" in row
    assert "One of: normal, uniform, xavier, glorot, kaiming, he, lecun, zeros." in row
    synthetic = json.loads(_show("synthetic", "--json"))["arguments"]
    assert next(a for a in synthetic if a["name"] == "kind")["allowed"] == ["spirals", "blobs"]
    assert all(a["allowed"] is None for a in synthetic if a["name"] != "kind")


def test_a_plugins_literal_and_one_of_arguments_show_their_values(
    make_plugin: MakePlugin,
) -> None:
    make_plugin(
        "choosy",
        """
        from typing import Annotated, Literal

        import corebp
        from corebp.contracts.choices import OneOf

        MODES = {"fast": 1, "exact": 2}

        class Choosy(corebp.Layer):
            \"\"\"A layer that chooses.

            Args:
                mode: how it runs.
                side: which side, if any.
            \"\"\"

            def __init__(
                self,
                mode: Annotated[str, OneOf(MODES)] = "fast",
                side: Literal["left", "right"] | None = None,
                width: int = 1,
            ) -> None:
                super().__init__()

        @corebp.hookimpl
        def corebp_register_layers():
            return {"choosy": Choosy}
        """,
    )
    shown = {a["name"]: a for a in json.loads(_show("choosy", "--json"))["arguments"]}
    assert (shown["mode"]["type"], shown["mode"]["allowed"]) == ("str", ["fast", "exact"])
    assert (shown["side"]["type"], shown["side"]["allowed"]) == (
        "str | None",
        ["left", "right", None],
    )
    assert (shown["width"]["type"], shown["width"]["allowed"], shown["width"]["meaning"]) == (
        "int",
        None,
        "",
    )
    rows = {line.split()[0]: line for line in _show("choosy").splitlines() if line.startswith("  ")}
    assert rows["mode"].endswith("how it runs. One of: fast, exact.")
    assert rows["side"].endswith("which side, if any. One of: left, right, null.")
    assert rows["width"].endswith(" -")


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
