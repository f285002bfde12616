"""Sign symmetry, as in biotorch: the feedback has W's signs and magnitudes of its own.

usf:  B = s · sign(W)            (s: `scale`, default the std of the layer's initial W)
brsf: B = |M_t| ∘ sign(W), M_t ~ N(0, s²) redrawn for every batch
frsf: B = |M| ∘ sign(W),   M ~ N(0, s²) drawn once
sign(W) is read at every step, so B follows W's signs as it trains.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import torch
from torch import Tensor

from corebp.contracts.choices import OneOf
from corebp_rules.feedback import CONVENTIONS, FeedbackRule, StandIn


def signs(stand_in: StandIn) -> Tensor:
    """sign(W), in torch.nn's layout (a view for Linear)."""
    return stand_in.layout(stand_in.W.sign())


class UniformSignFeedback(FeedbackRule):
    """usf: B = s · sign(W).

    Args:
        scale: s > 0, the magnitude of every entry of B; null: per layer, as `convention`
            says.
        convention: the default s: corebp, the std of the layer's initial W; biotorch,
            xavier's √(2 / (fan_in + fan_out)).
    """

    def weights(self, stand_in: StandIn) -> Tensor:
        """sign(W), unscaled: `input_error` scales the product instead (a smaller tensor)."""
        return signs(stand_in)

    def input_error(self, stand_in: StandIn, x: Tensor, ctx: Any, grad_output: Tensor) -> Tensor:
        return super().input_error(stand_in, x, ctx, grad_output).mul_(self.scales[stand_in.name])

    def feedback_weights(self) -> dict[int, Tensor]:
        return {i: B.mul(self.scales[str(i)]) for i, B in super().feedback_weights().items()}


class FixedRandomSignFeedback(FeedbackRule):
    """frsf: B = |M| ∘ sign(W), M drawn once."""

    def __init__(
        self,
        scale: float | None = None,
        generator: torch.Generator | None = None,
        convention: Annotated[str, OneOf(CONVENTIONS)] = "corebp",
    ):
        super().__init__(scale, generator, convention)
        #: |M| per layer in W's layout, taken once from the drawn M (derived, not checkpointed).
        self.magnitudes: dict[str, Tensor] = {}

    def weights(self, stand_in: StandIn) -> Tensor:
        name, W = stand_in.name, stand_in.W
        magnitude = self.magnitudes.get(name)
        if magnitude is None:
            M = self.draw(name, self.torch_shape(stand_in), W, self.scales[name])
            magnitude = self.magnitudes[name] = stand_in.layout(M.abs()).contiguous()
        # In W's layout, both operands contiguous; a Linear's B is then its transposed view.
        return stand_in.layout(W.sign().mul_(magnitude))

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        super().load_state_dict(state)
        self.magnitudes.clear()


class BatchwiseRandomSignFeedback(FeedbackRule):
    """brsf: B = |M_t| ∘ sign(W), M_t redrawn for every batch."""

    def weights(self, stand_in: StandIn) -> Tensor:
        W, shape, s = stand_in.W, self.torch_shape(stand_in), self.scales[stand_in.name]
        if self.convention == "biotorch":  # |U(−a, a)| is U(0, a): no abs pass
            M = torch.rand(shape, generator=self.generator).to(W.device, W.dtype)
            return M.mul_(signs(stand_in)).mul_(math.sqrt(3) * s)
        M = torch.randn(shape, generator=self.generator).to(W.device, W.dtype)
        return M.abs_().mul_(signs(stand_in)).mul_(s)
