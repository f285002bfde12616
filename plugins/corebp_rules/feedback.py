"""What every feedback rule shares: a stand-in layer that keeps the weight update local and asks
the rule for the error to send down.

`StandIn(layer)` takes a Linear's or Conv2d's place in the model. Its forward is the layer's;
its backward first runs the layer's own backward without dL/dx (so dW and db are the layer's
own, from its input and the error delivered to it), then returns the error the rule sends to
the layer below: `rule.input_error(stand_in, x, grad_output)`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from corebp.contracts.layer import Wrapper
from corebp.contracts.learning_rule import LearningRule
from corebp.errors import ConfigError
from corebp.layers import Conv2d, Linear
from corebp.layers.conv2d import convolution_backward
from corebp.layers.sequential import Sequential


class StandIn(Wrapper):
    """A Linear or Conv2d whose dL/dx comes from a learning rule; same params, same names."""

    exact_gradient: ClassVar[bool] = False

    def __init__(self, layer: Linear | Conv2d, rule: FeedbackRule, name: str) -> None:
        super().__init__(layer)
        self.layer: Linear | Conv2d = layer
        self.rule = rule
        self.name = name

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.layer.forward(x), x

    def _backward(self, x: Tensor, grad_output: Tensor, input_grad: bool) -> Tensor | None:
        self.layer.backward(grad_output, False)
        return self.rule.input_error(self, x, grad_output) if input_grad else None

    def __repr__(self) -> str:
        return f"{type(self.rule).__name__}({self.layer!r})"


class FeedbackRule(LearningRule):
    """A rule that sends errors down through feedback weights B in place of Wᵀ.

    `scale` sets the size of what is drawn (B, or M for sign symmetry); None: per layer, the
    standard deviation of the layer's initial W.
    """

    exact_gradient: ClassVar[bool] = False

    def __init__(self, scale: float | None = None, generator: torch.Generator | None = None):
        super().__init__(generator)
        if scale is not None and not scale > 0:
            raise ConfigError(f"scale={scale!r} must be a positive number (or null).")
        self.scale = scale
        #: The feedback tensors drawn so far, by the layer's position in the model ("0", "3").
        self.feedback: dict[str, Tensor] = {}
        self.scales: dict[str, float] = {}
        self.stand_ins: list[StandIn] = []
        #: What the last backward used in W's place, by layer position (`feedback_weights`).
        self.used: dict[str, Tensor] = {}

    def attach(self, model: Sequential) -> None:
        for i, layer in enumerate(list(model.layers)):
            if isinstance(layer, (Linear, Conv2d)):
                name = str(i)
                self.scales[name] = (
                    self.scale if self.scale is not None else layer.params["W"].std().item()
                )
                stand_in = StandIn(layer, self, name)
                self.stand_ins.append(stand_in)
                model.replace(i, stand_in)
        if not self.stand_ins:
            raise ConfigError(
                f"learning_rule: {type(self).__name__} applies to linear and conv2d layers, and "
                "the model has none at its top level; use learning_rule: {type: backprop}."
            )

    def draw(self, name: str, shape: tuple[int, ...], like: Tensor, scale: float) -> Tensor:
        """The feedback tensor `name`, drawn N(0, scale²) from the rule's generator on first use
        (on the CPU, then moved, so it is the same numbers on every device)."""
        B = self.feedback.get(name)
        if B is None:
            B = torch.randn(shape, generator=self.generator).mul_(scale)
            B = self.feedback[name] = B.to(like.device, like.dtype)
        return B

    def input_error(self, stand_in: StandIn, x: Tensor, grad_output: Tensor) -> Tensor:
        """The error sent below `stand_in`: by default its backward with B in W's place."""
        B = self.used[stand_in.name] = self.weights(stand_in)
        return through(stand_in.layer, x, grad_output, B)

    def weights(self, stand_in: StandIn) -> Tensor:
        """The tensor standing in for W in the backward (Linear: in Wᵀ's (out, in) layout)."""
        raise NotImplementedError(f"{type(self).__name__} must implement weights(stand_in)")

    def feedback_weights(self) -> dict[int, Tensor]:
        return {
            int(s.name): B.t() if isinstance(s.layer, Linear) else B
            for s in self.stand_ins
            if (B := self.used.get(s.name)) is not None
        }

    def state_dict(self) -> dict[str, Tensor]:
        return super().state_dict() | {f"B.{k}": B for k, B in self.feedback.items()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        super().load_state_dict(state)
        for key, B in state.items():
            if key.startswith("B."):
                W = self.stand_ins[0].params["W"]
                self.feedback[key[2:]] = B.to(W.device, W.dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scale={self.scale})"


def through(layer: Linear | Conv2d, x: Tensor, grad_output: Tensor, B: Tensor) -> Tensor:
    """dL/dx of `layer`'s backward with B taking W's place: Linear g @ B (B: (out, in), where
    backprop has Wᵀ); Conv2d the transposed convolution of g with B (B in W's layout)."""
    if isinstance(layer, Linear):
        return grad_output.mm(B)
    dx: Any = convolution_backward(
        grad_output,
        x,
        B,
        None,
        list(layer.stride),
        list(layer.padding),
        list(layer.dilation),
        False,
        [0, 0],
        layer.groups,
        [True, False, False],
    )[0]
    return dx


def transposed_shape(layer: Linear | Conv2d) -> tuple[int, ...]:
    """The shape of what stands in for W in the backward: (out, in) for Linear, W's for Conv2d."""
    W = layer.params["W"]
    return (W.shape[1], W.shape[0]) if isinstance(layer, Linear) else tuple(W.shape)


def signs(layer: Linear | Conv2d) -> Tensor:
    """sign(W), laid out as `through` wants B (a view for Linear)."""
    s = layer.params["W"].sign()
    return s.t() if isinstance(layer, Linear) else s
