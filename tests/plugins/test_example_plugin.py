"""The separately installed example distribution is discovered, listed and usable."""

from __future__ import annotations

import json

# Installed by README's test command (pip install -e ./examples/corebp-example-plugin).
import corebp_example as example
import torch
import typer
from typer.testing import CliRunner

import corebp
from corebp.checks.gradcheck import check_layer
from corebp.cli.plugins import command
from corebp.plugins import load_registry


def test_example_plugin_is_discovered_through_its_entry_point() -> None:
    reg = load_registry()
    info = next(p for p in reg.plugins if p.name == "example")
    assert info.source == "corebp-example-plugin (corebp_example)"
    assert info.error is None
    assert set(info.components) == {"optimizers:lion", "layers:swish"}
    assert reg.get("optimizers", "lion") is example.Lion
    assert reg.get("layers", "swish") is example.Swish


def test_example_plugin_is_listed_by_corebp_plugins() -> None:
    app = typer.Typer()
    app.command("plugins")(command)
    app.callback()(lambda: None)
    result = CliRunner().invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    listed = {p["name"]: p for p in json.loads(result.output)}["example"]
    assert listed["components"] == {"layers": ["swish"], "optimizers": ["lion"]}
    assert listed["version"] == "0.1.0"


def test_example_lion_trains_a_linear_layer_by_sign_steps() -> None:
    reg = load_registry()
    layer = corebp.Linear(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    before = {n: p.clone() for n, p in layer.params.items()}
    opt = reg.get("optimizers", "lion")(layer.params, layer.grads, lr=0.01)
    x = torch.randn(8, 4, dtype=torch.float64)
    layer.forward(x)
    layer.backward(torch.ones(8, 3, dtype=torch.float64))
    opt.step()
    for name, p in layer.params.items():
        moved = (p - before[name]).abs()
        torch.testing.assert_close(moved, torch.full_like(p, 0.01) * (layer.grads[name] != 0))


def test_example_swish_passes_the_gradient_checker() -> None:
    report = check_layer(load_registry().get("layers", "swish")(), (4, 5))
    assert report.passed, str(report)
