"""Recipes load, merge overrides and report every problem at once, by dotted key."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from corebp.errors import ConfigError
from corebp.plugins import registry
from corebp.recipe import load_recipe, shipped_recipes
from corebp.recipe.shipped import description

EXPECTED_SHIPPED = {
    "mnist-784-100-10",
    "mnist-784-100-10-as-written",
    "mnist-784-100-10-tuned",
    "mnist-784-100-relu-cross-entropy",
}


def test_the_four_issue_recipes_are_shipped():
    assert set(shipped_recipes()) >= EXPECTED_SHIPPED


@pytest.mark.parametrize("name", sorted(shipped_recipes()))
def test_every_shipped_recipe_validates_builds_and_documents_itself(name):
    loaded = load_recipe(name)
    loaded.take_core(registry())
    text = shipped_recipes()[name].read_text()
    assert description(shipped_recipes()[name]), "first comment line is the description"
    assert f"corebp run {name}" in text, "the header shows the command that runs it"


def test_overrides_merge_into_sections_lists_and_new_keys():
    loaded = load_recipe(
        "mnist-784-100-10",
        [
            "optimizer.lr=0.05",
            "train.epochs=1",
            "model.0.init=xavier",
            "model.0.std=null",
            "optimizer.momentum=0.9",
        ],
    )
    r = loaded.recipe
    assert r.optimizer.args == {"lr": 0.05, "momentum": 0.9}
    assert r.train.epochs == 1
    assert r.model[0].args["init"] == "xavier" and r.model[0].args["std"] is None
    assert r.model[2].args["init"] == "normal", "other list items are untouched"


def _problems(name: str, overrides: list[str] = ()) -> str:
    with pytest.raises(ConfigError) as e:
        load_recipe(name, overrides)
    return str(e.value)


def test_a_non_number_learning_rate_names_the_key_and_value():
    msg = _problems("mnist-784-100-10", ["optimizer.lr=abc"])
    assert "optimizer.lr: 'abc' is not a valid number" in msg
    assert "1 problem:" in msg


def test_a_misspelt_section_names_it_and_suggests_the_right_key(tmp_path: Path):
    text = (Path(load_recipe("mnist-784-100-10").path)).read_text()
    bad = tmp_path / "typo.yaml"
    bad.write_text(text.replace("optimizer:", "optimiser:"))
    msg = _problems(str(bad))
    assert "optimiser: unknown key" in msg and "Did you mean 'optimizer'?" in msg
    assert "optimizer: missing" not in msg, "the misspelling is reported once, where it is"
    assert "1 problem:" in msg


def test_an_unknown_layer_type_suggests_the_nearest_registered_name():
    msg = _problems("mnist-784-100-10", ["model.1.type=sigmoud"])
    assert "model.1.type: 'sigmoud' is not a registered layer" in msg
    assert "Did you mean 'sigmoid'?" in msg


def test_an_unknown_layer_argument_suggests_the_nearest_parameter():
    msg = _problems("mnist-784-100-10", ["model.0.in_featurs=784"])
    assert "model.0.in_featurs: unknown key (set to 784), not an argument of Linear" in msg
    assert "Did you mean 'in_features'?" in msg


def test_arguments_the_trainer_supplies_cannot_be_set_per_component():
    msg = _problems("mnist-784-100-10", ["model.0.dtype=float64"])
    assert "model.0.dtype" in msg and "comes from train.dtype" in msg


def test_every_problem_of_a_recipe_is_reported_at_once():
    msg = _problems(
        "mnist-784-100-10",
        [
            "optimizer.lr=abc",
            "train.epochs=0",
            "train.device=gpu",
            "loss.type=mes",
            "data.batch_sise=4",
        ],
    )
    assert "5 problems:" in msg
    for expected in (
        "optimizer.lr: 'abc' is not a valid number",
        "train.epochs: 0 is not valid; expected greater than 0",
        "train.device: 'gpu' is not allowed; expected 'auto', 'cpu' or 'cuda'",
        "loss.type: 'mes' is not a registered loss",
        "data.batch_sise: unknown key",
    ):
        assert expected in msg


def test_an_override_without_equals_sign_is_explained():
    msg = _problems("mnist-784-100-10", ["train.epochs"])
    assert "'train.epochs': an override must look like dotted.key=value" in msg


def test_an_unknown_recipe_name_suggests_the_nearest_shipped_one():
    with pytest.raises(ConfigError, match="Did you mean 'mnist-784-100-10'"):
        load_recipe("mnist-784-100-1O")


def test_notebook_weights_are_torch_randn_in_the_notebooks_order():
    loaded = load_recipe("mnist-784-100-10")  # train.seed 0: validation seeds its draws
    model = loaded.take_core(registry()).model
    torch.manual_seed(0)
    W1, W2 = torch.randn(784, 100), torch.randn(100, 10)
    assert torch.equal(model.params["0.W"], W1) and torch.equal(model.params["2.W"], W2)


def test_components_are_built_from_the_validated_arguments_not_the_raw_strings():
    loaded = load_recipe(
        "mnist-784-100-10", ['optimizer.lr="0.05"', "model.0.in_features='784'", "loss.scale=1"]
    )
    assert loaded.recipe.optimizer.args["lr"] == 0.05
    assert loaded.recipe.model[0].args["in_features"] == 784
    core = loaded.take_core(registry())
    loss, optimizer = core.loss, core.optimizer
    assert optimizer.lr == 0.05 and isinstance(optimizer.lr, float)
    assert isinstance(loss.scale, float)
