"""`corebp check` checks each layer on every argument set in its `check_args`, so a bug that
shows only away from the default arguments fails (issue 15's Softplus)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corebp.cli import main

pytestmark = pytest.mark.usefixtures("fresh_registry")

MakePlugin = Callable[[str, str], Path]  # the `make_plugin` fixture of conftest.py

SOFTPLUS = """
import torch
import corebp

class Softplus(corebp.Layer):
    check_args = [{}, {"beta": 2.0}]

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        self.beta = beta

    def _forward(self, x):
        return torch.nn.functional.softplus(x, beta=self.beta), x

    def update_grad_input(self, x, grad_output, params):
        return grad_output * torch.sigmoid(x)  # the bug: beta dropped, right only at beta = 1

    def reference(self, x, params):
        return torch.nn.functional.softplus(x, beta=self.beta)

    def extra_repr(self):
        return f"beta={self.beta:g}"

@corebp.hookimpl
def corebp_register_layers():
    return {"softplus": Softplus}
"""


def test_check_fails_a_layer_only_on_its_off_default_argument_set(make_plugin: MakePlugin):
    make_plugin("softplus", SOFTPLUS)
    result = CliRunner().invoke(main.build(), ["check", "softplus", "--json"])
    assert result.exit_code == 1, result.output
    outcomes = [(d["args"], d["status"]) for d in json.loads(result.output)]
    assert outcomes == [({}, "ok"), ({"beta": 2.0}, "FAIL")]


def test_check_names_the_failing_argument_set(make_plugin: MakePlugin):
    make_plugin("softplus", SOFTPLUS)
    result = CliRunner().invoke(main.build(), ["check", "softplus"])
    assert result.exit_code == 1, result.output
    assert "softplus  beta=2.0  " in result.output
    assert "failed: softplus (beta=2.0)" in result.output


def test_check_runs_each_declared_set_of_the_built_in_layers():
    result = CliRunner().invoke(main.build(), ["check", "softmax", "--json"])
    assert result.exit_code == 0, result.output
    assert [d["args"] for d in json.loads(result.output)] == [{}, {"dim": 0}]
