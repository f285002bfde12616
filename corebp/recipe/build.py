"""A recipe's model, loss and optimizer (its "core"), built once.

`load_recipe` builds them while it validates the recipe, so that an error a constructor
raises is a recipe problem reported with all the others, and keeps them in the
`LoadedRecipe` it returns. The run that follows takes those objects
(`LoadedRecipe.take_core`): nothing is built twice. The weights are drawn as a run draws
them, after `torch.manual_seed(train.seed)`, on the CPU in float32 (the run then moves
them), so the notebook recipe's weights are exactly `torch.randn(784, 100)` then
`torch.randn(100, 10)`; torch's global generator is left as it was, and `Core.rng` is its
state after the draws, where a run continues from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from corebp.errors import ConfigError
from corebp.layers.sequential import Sequential
from corebp.recipe.components import build

if TYPE_CHECKING:
    from corebp.contracts.loss import Loss
    from corebp.contracts.optimizer import Optimizer
    from corebp.plugins import Registry
    from corebp.recipe.schema import Recipe

#: A registered class and its validated recipe arguments; None where they had problems.
Node = tuple[type, dict[str, Any]] | None


@dataclass
class Core:
    """The model, loss and optimizer of one recipe, freshly built (untrained)."""

    model: Sequential
    loss: Loss
    optimizer: Optimizer
    #: torch's global generator as the weights' draws left it.
    rng: Tensor
    #: What it was built from (`core_key`): a core serves only a recipe with the same key.
    key: str = ""


def core_key(recipe: Recipe) -> str:
    """The recipe nodes a core depends on: its model, loss, optimizer and seed."""
    nodes = [s.model_dump(mode="json") for s in (*recipe.model, recipe.loss, recipe.optimizer)]
    return json.dumps([nodes, recipe.train.seed], sort_keys=True)


def build_core(
    layers: list[Node], loss: Node, optimizer: Node, seed: int
) -> tuple[Core | None, list[str]]:
    """Build what is given, seeded with `seed`; the Core when everything was given and
    built, and every error a constructor raised (the optimizer is built over the parameters
    of the layers that could be, named "<index>.<name>" as the model names them)."""
    problems: list[str] = []
    built: list[Any] = []
    params: dict[str, Tensor] = {}
    grads: dict[str, Tensor] = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for i, node in enumerate(layers):
            layer = _build(problems, "layers", node, f"model.{i}")
            built.append(layer)
            for name, p, g in layer.named_params() if layer is not None else ():
                params[f"{i}.{name}"], grads[f"{i}.{name}"] = p, g
        model = Sequential(*built) if None not in built else None
        if model is not None:
            params, grads = model.params, model.grads
        loss_fn = _build(problems, "losses", loss, "loss")
        update = _build(problems, "optimizers", optimizer, "optimizer", params=params, grads=grads)
        rng = torch.get_rng_state()
    if model is None or loss_fn is None or update is None:
        return None, problems
    return Core(model, loss_fn, update, rng), problems


def _build(problems: list[str], kind: str, node: Node, key: str, **supplied: Any) -> Any:
    if node is None:
        return None
    try:
        return build(kind, *node, key, **supplied)
    except ConfigError as e:
        problems.append(str(e))
        return None


def core_of(recipe: Recipe, reg: Registry) -> Core:
    """A new core of a validated recipe."""
    layers: list[Node] = [
        (reg.get("layers", s.type, key=f"model.{i}.type"), s.args)
        for i, s in enumerate(recipe.model)
    ]
    loss = (reg.get("losses", recipe.loss.type, key="loss.type"), recipe.loss.args)
    opt = recipe.optimizer
    optimizer = (reg.get("optimizers", opt.type, key="optimizer.type"), opt.args)
    core, problems = build_core(layers, loss, optimizer, recipe.train.seed)
    if core is None:
        raise ConfigError(problems[0])
    core.key = core_key(recipe)
    return core
