"""Direct feedback alignment (Nøkland 2016): the output error goes to every hidden layer
through a fixed random B_k of its own.

With e = dL/dy of the last linear/conv layer (the output error), that layer sends e B_L down
(FA), and every earlier one sends δx_k = e B_k, B_k: (outputs, inputs of layer k), reshaped
to x_k's shape; the activation below multiplies it by its f′ as in backprop, and each layer's
dW = xᵀ δy stays its own. B ~ N(0, s²), s: `scale`, default 1/√outputs (so e B_k is of the
size of e). Only the last layer's B has W's shape (`feedback_weights`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from corebp.errors import StateError
from corebp_rules.feedback import FeedbackRule, StandIn, xavier_std


class DirectFeedbackAlignment(FeedbackRule):
    """dfa: every layer receives the output error through its own fixed random matrix."""

    def __init__(
        self,
        scale: float | None = None,
        generator: torch.Generator | None = None,
        convention: str = "corebp",
    ):
        super().__init__(scale, generator, convention)
        #: This batch's output error, (N, outputs), set by the last layer's backward.
        self.error: Tensor | None = None

    def input_error(self, stand_in: StandIn, x: Tensor, ctx: Any, grad_output: Tensor) -> Tensor:
        if stand_in is self.stand_ins[-1]:
            self.error = grad_output.flatten(1)
            shape = self.torch_shape(stand_in)
            B = self.used[stand_in.name] = self.draw(stand_in.name, shape, x, self._scale(shape))
            return self.through(stand_in, ctx, grad_output, B)
        if self.error is None:
            raise StateError("dfa: a hidden layer's backward ran before the output layer's.")
        shape = (self.error.shape[1], x[0].numel())
        B = self.draw(stand_in.name, shape, x, self._scale(shape))
        return self.error.mm(B).view(x.shape)

    def default_scale(self, stand_in: StandIn) -> float:
        """The scale of a B of W's shape (each B's own comes from its shape, `_scale`)."""
        return self._scale(self.torch_shape(stand_in))

    def _scale(self, shape: tuple[int, ...]) -> float:
        """`scale`; else 1/√outputs (corebp) or xavier's √(2 / (outputs + inputs)) (biotorch),
        for B of `shape` (outputs, inputs...)."""
        if self.scale is not None:
            return self.scale
        if self.convention == "biotorch":
            return xavier_std(shape)
        return 1 / math.sqrt(shape[0])
