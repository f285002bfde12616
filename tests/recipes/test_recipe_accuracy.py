"""Recipe headers quote the accuracy `corebp sweep` measured (benchmarks/sweeps/), word for word."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from corebp.recipe import shipped_recipes
from corebp.training.sweep import quote

SWEEPS = Path(__file__).parents[2] / "benchmarks" / "sweeps"
LOCAL = ["mnist-mlp2-local-pred", "mnist-mlp2-local-predsim", "mnist-lenet5-local-predsim"]
#: (recipe, sweep, cell label): the measurements each recipe's header states.
MEASURED = [
    ("mnist-lenet5", "lenet5", "mnist-lenet5"),
    ("mnist-lenet5-batchnorm", "lenet5", "mnist-lenet5-batchnorm"),
    ("mnist-lenet5", "lenet5-20", "mnist-lenet5"),
    *[
        (f"mnist-lenet5-{r}", "lenet5-rules", f"mnist-lenet5-{r}")
        for r in ["fa", "dfa", "usf", "brsf", "frsf"]
    ],
    *[
        (f"fashion-lenet5-{r}", "fashion-lenet5-rules", f"fashion-lenet5-{r}")
        for r in ["bp", "fa", "dfa", "usf", "brsf", "frsf"]
    ],
    *[(r, "local-rules", r) for r in LOCAL],
    ("mnist-ff", "ff", "mnist-ff"),
    ("mnist-mlp2-pc", "mlp2-pc", "mnist-mlp2-pc"),
    ("mnist-mlp2-dtp", "mlp2-dtp", "mnist-mlp2-dtp"),
    ("mnist-mlp-fa", "mlp-rules", "learning_rule.type=fa"),
    ("mnist-mlp-dfa", "mlp-rules", "learning_rule.type=dfa"),
]


def header_line(sweep: str, label: str) -> str:
    """The sentence a recipe's header quotes from a cell of a committed sweep."""
    results = json.loads((SWEEPS / f"{sweep}.json").read_text(encoding="utf-8"))
    cell = next(c for c in results["cells"] if c["label"] == label)
    (epochs,) = cell["trained_epochs"]
    when = (
        f"at the epoch of {epochs} with the best {results['select']}"
        if results["select"]
        else f"after {epochs} epochs"
    )
    source = f"benchmarks/sweeps/{sweep}.json"
    return f"# Measured: test accuracy {when}: {quote(cell['summary'])} ({source})."


@pytest.mark.parametrize(("recipe", "sweep", "label"), MEASURED)
def test_the_recipe_header_states_the_measured_accuracy(recipe: str, sweep: str, label: str):
    header = shipped_recipes()[recipe].read_text(encoding="utf-8")
    assert header_line(sweep, label) in header.splitlines()


def test_no_shipped_recipe_says_it_is_not_measured():
    for name, path in shipped_recipes().items():
        assert "not yet measured" not in path.read_text(encoding="utf-8"), name


def config(name: str) -> dict:
    """A shipped recipe as plain data."""
    data = OmegaConf.to_container(OmegaConf.load(shipped_recipes()[name]))
    assert isinstance(data, dict)
    return data


def test_the_rule_recipes_share_one_protocol():
    """docs/learning-rules.md compares the LeNet rules under one protocol: the recipes differ
    in their rule alone, and from mnist-lenet5 in the rule, lr, epochs and validation split."""
    base = config("mnist-lenet5")
    base["optimizer"]["lr"], base["train"]["epochs"] = 0.02, 20
    base["data"]["validation_split"] = 0.1
    for rule in ["fa", "dfa", "usf", "brsf", "frsf"]:
        recipe = config(f"mnist-lenet5-{rule}")
        assert recipe.pop("learning_rule")["type"] == rule
        assert recipe == base


def test_the_fashion_mnist_rule_recipes_differ_in_their_rule_alone():
    """docs/learning-rules.md compares the rules on Fashion-MNIST under one protocol."""
    base = config("fashion-lenet5-bp")
    assert base.pop("learning_rule", {"type": "backprop"})["type"] == "backprop"
    assert base["data"]["source"] == "fashion_mnist" and base["train"]["epochs"] == 20
    for rule in ["fa", "dfa", "usf", "brsf", "frsf"]:
        recipe = config(f"fashion-lenet5-{rule}")
        assert recipe.pop("learning_rule")["type"] == rule
        assert recipe == base
