"""Errors raised by component constructors are reported together, with the schema's problems."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from corebp.errors import ConfigError
from corebp.recipe import load_recipe

BAD = """\
model:
  - {type: linear, in_features: 784, out_features: 100, init: bogus}
  - {type: sigmoid}
  - {type: linear, in_features: 100, out_features: 10, init: xavier, std: 2.0}
loss: {type: bce, eps: 0.9}
optimizer: {type: sgd, lr: 0.1, nesterov: true}
data: {source: mnist}
train: {epochs: 0}
"""

EXPECTED = [
    "train.epochs: 0 is not valid; expected greater than 0.",
    "model.0: Linear: init='bogus' is not a known initialiser; expected one of glorot, he, "
    "kaiming, lecun, normal, uniform, xavier, zeros.",
    "model.2: Linear: std=2.0 only applies to init='normal' (got init='xavier'); drop std or "
    "use init='normal'.",
    "loss: BCELoss: eps=0.9 must lie in (0, 0.5), e.g. 1e-7.",
    "optimizer: SGD: nesterov=True needs momentum > 0 and dampening = 0",
]


@pytest.fixture
def bad_recipe(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    return path


def test_every_constructor_error_is_reported_with_the_schema_problems(bad_recipe: Path):
    with pytest.raises(ConfigError) as e:
        load_recipe(str(bad_recipe))
    message = str(e.value)
    assert "5 problems:" in message
    for line in EXPECTED:
        assert line in message


def test_an_optimizer_error_alone_is_the_one_problem(bad_recipe: Path):
    fixed = ["model.0.init=normal", "model.2.std=null", "loss.eps=1e-7", "train.epochs=1"]
    fixes = [*fixed, "optimizer.nesterov=false", "optimizer.momentum=-1"]
    with pytest.raises(ConfigError, match=r"1 problem:\n  - optimizer: SGD: momentum=-1"):
        load_recipe(str(bad_recipe), fixes)


def test_validation_leaves_the_global_rng_as_it_was():
    state = torch.get_rng_state()
    load_recipe("mnist-784-100-10")
    assert torch.equal(torch.get_rng_state(), state)


def test_validate_prints_every_constructor_error_and_exits_2(bad_recipe: Path, tmp_path: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "corebp", "validate", str(bad_recipe)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    for line in EXPECTED:
        assert line in proc.stderr
