"""Kolen-Pollack (Akrout et al. 2019, "Deep learning without weight transport"): B, in Wᵀ's
place, is trained with W's own update, transposed, so B − Wᵀ decays.

Backprop: δx = δy Wᵀ.  KP: δx = δy B, and B receives the gradient W receives, transposed
(∂B = (xᵀ δy)ᵀ), through the run's optimizer, with state of its own and the same weight
decay. For plain SGD with learning rate η and weight decay λ the two updates differ only in
the decay term, so D = B − Wᵀ follows D ← (1 − ηλ) D; with momentum μ, D's momentum buffer
follows v ← μ v + λ D and D ← D − η v (the gradients cancel in the difference). B₀ is drawn
like `fa`'s, independently of W₀.

B is a tensor the rule owns (`params`, "B.<layer index>"), in torch.nn's layout of W; its
gradient (`grads`) is read from the layer's dW when the optimizer reads it, so under data
parallelism it is the all-reduced one. Only layers that send an error below them (every
layer that learns but the first) own a B.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import torch
from torch import Tensor

from corebp.contracts.learning_rule import LearningRule
from corebp.errors import ConfigError
from corebp.layers.sequential import Sequential
from corebp_rules.feedback import FeedbackRule, StandIn


class WeightGrads(Mapping[str, Tensor]):
    """Each B's gradient: its layer's dW in torch.nn's layout, read when it is looked up."""

    def __init__(self, owners: dict[str, StandIn]) -> None:
        self.owners = owners

    def __getitem__(self, key: str) -> Tensor:
        s = self.owners[key]
        return s.layout(s.grads[s.param])

    def __iter__(self) -> Iterator[str]:
        return iter(self.owners)

    def __len__(self) -> int:
        return len(self.owners)


class KolenPollack(FeedbackRule):
    """kp: B in Wᵀ's place, trained by the run's optimizer with W's gradient, transposed."""

    def attach(self, model: Sequential) -> None:
        super().attach(model)
        owners: dict[str, StandIn] = {}
        for s in self.stand_ins:
            i = int(s.name)
            if any(layer.params for layer in model.layers[:i]):  # an error goes below it
                self.params[f"B.{s.name}"] = self.draw(
                    s.name, self.torch_shape(s), s.W, self.scales[s.name]
                )
                owners[f"B.{s.name}"] = s
        self.grads = WeightGrads(owners)

    def weights(self, stand_in: StandIn) -> Tensor:
        return self.feedback[stand_in.name]

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """In place: the optimizer trains these very tensors."""
        LearningRule.load_state_dict(self, state)
        missing = sorted(self.params.keys() - state.keys())
        if missing:
            raise ConfigError(
                f"KolenPollack.load_state_dict: the state has no {missing}; expected a dict "
                "from state_dict() of kp on the same model."
            )
        with torch.no_grad():
            for key, B in self.params.items():
                B.copy_(state[key])
