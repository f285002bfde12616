"""A recipe's components are built once: validation builds the model, loss and optimizer,
and the run trains those very objects (corebp.recipe.build)."""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from corebp.contracts.optimizer import Optimizer
from corebp.plugins import Component, registry
from corebp.recipe import load_recipe
from corebp.recipe.components import SUPPLIED, _arguments_model, build, instantiate
from corebp.training.run import run_recipe
from corebp.training.trainer import Trainer


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter]:
    """Constructions of the synthetic recipe's Linear, MSE loss and SGD, by class name."""
    kinds = {"layers": "linear", "losses": "mse", "optimizers": "sgd"}
    built: Counter = Counter()
    reg = registry()
    for kind, name in kinds.items():
        cls = reg.get(kind, name)
        original = cls.__init__

        @functools.wraps(original)  # the same signature: argument checks see no change
        def counting(self, *args, __cls=cls, __original=original, **kwargs):
            if type(self) is __cls:
                built[__cls.__name__] += 1
            __original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", counting)
    # the argument check caches what it reads of each class: no entry for the wrapped ones
    _arguments_model.cache_clear()
    yield built
    _arguments_model.cache_clear()


def test_a_run_builds_each_layer_the_loss_and_the_optimizer_once(
    synthetic_recipe: Path, tmp_path: Path, built: Counter
):
    loaded = load_recipe(str(synthetic_recipe), ["train.epochs=1", "checks.autograd=null"])
    run_recipe(loaded, tmp_path / "run", progress="log")
    assert built == {"Linear": 2, "MSELoss": 1, "SGD": 1}


def test_the_run_trains_the_objects_validation_built(synthetic_recipe: Path):
    loaded = load_recipe(str(synthetic_recipe), ["checks.autograd=null"])
    model = loaded.built[0].model
    trainer = Trainer(loaded)
    assert trainer.model is model and not loaded.built
    again = Trainer(loaded)  # a second run of the same recipe gets its own, equal, weights
    assert again.model is not model
    assert all(torch.equal(again.model.params[k], p) for k, p in model.params.items())


def test_a_copy_with_another_seed_does_not_take_the_validated_weights(synthetic_recipe: Path):
    loaded = load_recipe(str(synthetic_recipe))
    train = loaded.recipe.train.model_copy(update={"seed": 1})
    other = dataclasses.replace(loaded, recipe=loaded.recipe.model_copy(update={"train": train}))
    reseeded = other.take_core(registry())
    original = load_recipe(str(synthetic_recipe)).take_core(registry())
    assert not torch.equal(reseeded.model.params["0.W"], original.model.params["0.W"])
    assert loaded.built, "the core validation built stays for the recipe it was built for"


def test_the_run_may_supply_only_the_arguments_supplied_declares():
    reg = registry()
    metric = instantiate(reg, "metrics", "accuracy", {}, "metrics.0", num_classes=3)
    assert type(metric).__name__ == "Accuracy"
    assert set(SUPPLIED["metrics"]) == {"num_classes"}
    with pytest.raises(TypeError, match=r"\['batch'\] supplied to Accuracy but not declared"):
        build("metrics", reg.get("metrics", "accuracy"), {}, "metrics.0", num_classes=3, batch=4)


class EagerState(Optimizer):
    """Makes its state when it is built, as a third-party optimizer may."""

    def __init__(self, params: dict, grads: dict, lr: float) -> None:
        super().__init__(params, grads, lr)
        for name, p in params.items():
            self.state[name]["velocity"] = torch.zeros_like(p)

    def step(self) -> None:
        self.steps += 1


def test_state_an_optimizer_made_when_built_follows_the_model_to_the_runs_dtype(
    synthetic_recipe: Path, monkeypatch: pytest.MonkeyPatch
):
    # validation builds the optimizer over float32 CPU weights; the run is float64
    reg = registry()
    eager = Component("optimizers", "eager", EagerState, "tests")
    monkeypatch.setitem(reg.components["optimizers"], "eager", eager)
    overrides = ["optimizer={type: eager, lr: 0.1}", "train.dtype=float64", "checks.autograd=null"]
    trainer = Trainer(load_recipe(str(synthetic_recipe), overrides, reg=reg), reg)
    state = trainer.optimizer.state
    assert state.keys() == trainer.model.params.keys()
    assert all(s["velocity"].dtype == torch.float64 for s in state.values())
