"""Finished runs to read back: a synthetic one (seconds) and a short MNIST one (real data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corebp.recipe import load_recipe
from corebp.training.run import run_recipe
from tests.recipes.conftest import write_synthetic_recipe

#: One epoch on 1 % of MNIST's training images (the rest held out as val), on the CPU.
ONE_PERCENT = [
    "train.epochs=1",
    "data.validation_split=0.99",
    "train.device=cpu",
    "output.plots=false",
    "output.progress=log",
]


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synthetic")
    overrides = ["model.1.type=tanh", "checks.autograd=null", "output.plots=false"]
    recipe = write_synthetic_recipe(folder / "spirals.yaml", *overrides)
    return run_recipe(load_recipe(str(recipe)), folder / "run")[0]


@pytest.fixture(scope="session")
def mnist_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tuned recipe for one epoch on 1 % of the training images (the rest held out as val)."""
    loaded = load_recipe("mnist-784-100-10-tuned", ONE_PERCENT)
    return run_recipe(loaded, tmp_path_factory.mktemp("mnist") / "run")[0]


@pytest.fixture(scope="session")
def lenet_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LeNet-5 with BatchNorm on MNIST padded to 32×32, one epoch on 1 % of the images."""
    loaded = load_recipe("mnist-lenet5-batchnorm", [*ONE_PERCENT, "checks.autograd=null"])
    return run_recipe(loaded, tmp_path_factory.mktemp("lenet") / "run")[0]
