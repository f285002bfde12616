"""The optimizer contract: an explicit update rule over a model's `params` and `grads`."""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Mapping, MutableMapping
from typing import Any, ClassVar

import torch
from torch import Tensor


class Optimizer:
    """Base class of update rules. Subclasses implement `step()` and list their `state`.

    An optimizer is built as `Opt(params, grads, lr=..., **hyperparameters)`, where `params`
    and `grads` are same-keyed dicts such as `model.params` / `model.grads`. `step()` updates
    the parameter tensors in place (never rebinds them). `lr` may be changed between steps
    (schedules do so). `state` maps parameter name -> {buffer name: tensor}.

    A rule that reproduces a `torch.optim` optimizer says which in `torch_counterpart`, and
    how its recipe arguments translate in `torch_arguments`; the torch twin
    (`checks.autograd.twin: true`) trains with that class. None: the rule has no
    counterpart, and a recipe asking for a twin is refused.
    """

    #: The torch.optim class this rule reproduces, or None; the conformance kit
    #: (`corebp.testing`) checks the two against each other.
    torch_counterpart: ClassVar[type[torch.optim.Optimizer] | None] = None

    @classmethod
    def torch_arguments(cls, args: dict[str, Any]) -> dict[str, Any]:
        """`torch_counterpart`'s keyword arguments for these recipe arguments (less `lr`)."""
        return dict(args)

    def __init__(self, params: dict[str, Tensor], grads: dict[str, Tensor], lr: float) -> None:
        if params.keys() != grads.keys():
            raise ValueError(
                f"{type(self).__name__}: params and grads must have the same keys; got "
                f"{sorted(params)} and {sorted(grads)}."
            )
        self.params: MutableMapping[str, Tensor] = params
        self.grads: Mapping[str, Tensor] = grads
        self.lr = float(lr)
        self.steps = 0
        self.state: dict[str, dict[str, Tensor]] = {name: {} for name in params}

    def include(self, params: dict[str, Tensor], grads: Mapping[str, Tensor]) -> None:
        """Train `params` too from the next step on, with state of their own (a learning
        rule's tensors, `LearningRule.params`). The model's dicts stay linked, not copied."""
        clash = sorted(params.keys() & self.params.keys())
        if clash or params.keys() != grads.keys():
            raise ValueError(
                f"{type(self).__name__}.include: expected new names with a gradient each; "
                f"{clash or sorted(params.keys() ^ grads.keys())} "
                + ("are trained already" if clash else "have a parameter or a gradient only")
            )
        self.params = ChainMap(self.params, params)
        self.grads = ChainMap(self.grads, grads)  # type: ignore[arg-type]
        self.state.update({name: {} for name in params})

    def step(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement step()")

    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain numbers only, so it loads with `torch.load(weights_only=True)`."""
        return {
            "lr": self.lr,
            "steps": self.steps,
            "state": {n: {k: v.clone() for k, v in s.items()} for n, s in self.state.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.lr = float(state["lr"])
        self.steps = int(state["steps"])
        for name, buffers in state["state"].items():
            self.state[name] = {
                k: v.to(device=self.params[name].device, dtype=self.params[name].dtype)
                for k, v in buffers.items()
            }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr:g})"
