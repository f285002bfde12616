"""Direct feedback alignment (Nøkland 2016): the output error goes to every hidden layer
through a fixed random B_k of its own.

With e = dL/dy of the last linear/conv layer (the output error), that layer sends e B_L down
(FA), and every earlier one sends δx_k = e B_k, B_k: (outputs, inputs of layer k), reshaped
to x_k's shape; the activation below multiplies it by its f′ as in backprop, and each layer's
dW = xᵀ δy stays its own. B ~ N(0, s²), s: `scale`, default 1/√outputs (so e B_k is of the
size of e). Only the last layer's B has W's shape (`feedback_weights`).

Under `convention: biotorch`, B_k is drawn as biotorch's `weight_dfa`: xavier-uniform, of W's
torch.nn shape with `outputs` in place of the layer's outputs, and δx_k is the layer's input
half with B_k in W's place applied to e repeated over the positions of the layer's output
(for a Linear layer that is e B_k again; for a Conv2d, a transposed convolution with a
kernel (outputs, C_in, kh, kw), as biotorch's `torch.nn.grad.conv2d_input`).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import torch
from torch import Tensor

from corebp.contracts.choices import OneOf
from corebp.errors import StateError
from corebp_rules.feedback import CONVENTIONS, FeedbackRule, StandIn, xavier_std


class DirectFeedbackAlignment(FeedbackRule):
    """dfa: every layer receives the output error through its own fixed random matrix.

    Args:
        scale: s > 0, the standard deviation of every B_k; null: 1/√outputs (corebp) or
            xavier's √(2 / (outputs + inputs)) of B_k's shape (biotorch).
        convention: how B_k is drawn: corebp, N(0, s²) of shape (outputs, inputs of layer k);
            biotorch, U(−√3 s, √3 s) of W's torch.nn shape with outputs in place of the
            layer's (biotorch's `weight_dfa`).
    """

    def __init__(
        self,
        scale: float | None = None,
        generator: torch.Generator | None = None,
        convention: Annotated[str, OneOf(CONVENTIONS)] = "corebp",
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
        if self.convention == "biotorch":
            # biotorch's: B_k has W's torch.nn shape with `outputs` in place of the layer's
            # outputs (a kernel for a conv layer), and goes through the layer's own input half
            # with e repeated over every position of the layer's output.
            shape = (self.error.shape[1], *self.torch_shape(stand_in)[1:])
            B = self.draw(stand_in.name, shape, x, self._scale(shape))
            positions = grad_output.shape[2:]
            e = self.error.view(*self.error.shape, *(1 for _ in positions))
            return self.through(stand_in, ctx, e.expand(-1, -1, *positions).contiguous(), B)
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
