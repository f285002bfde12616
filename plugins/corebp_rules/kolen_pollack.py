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
parallelism it is the all-reduced one. Only layers that send an error below them in training
(every layer that learns but the first) own a B.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import ClassVar

from torch import Tensor

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
    """kp: B in Wᵀ's place, trained by the run's optimizer with W's gradient, transposed.

    Args:
        scale: the standard deviation of B₀ (drawn independently of W₀); None: as
            `convention` says.
        convention: how B₀ is drawn, as `fa`'s: corebp (N(0, std(W₀)²)) or biotorch
            (xavier-uniform).
    """

    check_args: ClassVar = [{}, {"scale": 0.3}, {"convention": "biotorch"}]

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
        """B; for a layer that owns none (its input is the model's), one drawn like `fa`'s on
        first use, which stays fixed: only a caller asking for dL/dx of the model's input
        reaches it."""
        name = stand_in.name
        return self.draw(name, self.torch_shape(stand_in), stand_in.W, self.scales[name])
