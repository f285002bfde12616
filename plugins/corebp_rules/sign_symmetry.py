"""Sign symmetry, as in biotorch: the feedback has W's signs and magnitudes of its own.

usf:  B = s · sign(W)            (s: `scale`, default the std of the layer's initial W)
brsf: B = |M_t| ∘ sign(W), M_t ~ N(0, s²) redrawn for every batch
frsf: B = |M| ∘ sign(W),   M ~ N(0, s²) drawn once
sign(W) is read at every step, so B follows W's signs as it trains.
"""

from __future__ import annotations

import torch
from torch import Tensor

from corebp_rules.feedback import FeedbackRule, StandIn, signs, transposed_shape


class UniformSignFeedback(FeedbackRule):
    """usf: B = s · sign(W)."""

    def weights(self, stand_in: StandIn) -> Tensor:
        return signs(stand_in.layer).mul(self.scales[stand_in.name])


class FixedRandomSignFeedback(FeedbackRule):
    """frsf: B = |M| ∘ sign(W), M drawn once."""

    def weights(self, stand_in: StandIn) -> Tensor:
        W = stand_in.params["W"]
        shape = transposed_shape(stand_in.layer)
        M = self.draw(stand_in.name, shape, W, self.scales[stand_in.name])
        return M.abs().mul_(signs(stand_in.layer))


class BatchwiseRandomSignFeedback(FeedbackRule):
    """brsf: B = |M_t| ∘ sign(W), M_t redrawn for every batch."""

    def weights(self, stand_in: StandIn) -> Tensor:
        W = stand_in.params["W"]
        shape = transposed_shape(stand_in.layer)
        M = torch.randn(shape, generator=self.generator).to(W.device, W.dtype)
        return M.abs_().mul_(signs(stand_in.layer)).mul_(self.scales[stand_in.name])
