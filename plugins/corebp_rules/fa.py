"""Feedback alignment (Lillicrap et al. 2016): a fixed random B per layer in Wᵀ's place.

Backprop: δx = δy Wᵀ.  FA: δx = δy B, B ~ N(0, s²) drawn once (s: `scale`, default the std of
the layer's initial W). dW = xᵀ δy stays the layer's own.
"""

from __future__ import annotations

from torch import Tensor

from corebp_rules.feedback import FeedbackRule, StandIn


class FeedbackAlignment(FeedbackRule):
    """fa: a fixed random feedback matrix per layer takes the place of Wᵀ."""

    def weights(self, stand_in: StandIn) -> Tensor:
        name = stand_in.name
        return self.draw(name, self.torch_shape(stand_in), stand_in.W, self.scales[name])
