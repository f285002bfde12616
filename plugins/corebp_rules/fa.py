"""Feedback alignment (Lillicrap et al. 2016): a fixed random B per layer in Wᵀ's place.

Backprop: δx = δy Wᵀ.  FA: δx = δy B, B ~ N(0, s²) drawn once (s: `scale`, default the std of
the layer's initial W). dW = xᵀ δy stays the layer's own.
"""

from __future__ import annotations

from torch import Tensor

from corebp_rules.feedback import FeedbackRule, StandIn, transposed_shape


class FeedbackAlignment(FeedbackRule):
    """fa: a fixed random feedback matrix per layer takes the place of Wᵀ."""

    def weights(self, stand_in: StandIn) -> Tensor:
        W = stand_in.params["W"]
        return self.draw(
            stand_in.name, transposed_shape(stand_in.layer), W, self.scales[stand_in.name]
        )
