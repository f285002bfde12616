"""What every feedback rule shares: a stand-in layer that keeps the weight update local and asks
the rule for the error to send down.

`StandIn(layer)` takes the place of a layer that declares a `feedback_param` (Linear's and
Conv2d's W). Its forward is the layer's; its backward is the layer's two halves
(`corebp.contracts.layer`): the parameter half as it is (dW and db from the layer's input and
the error delivered to it), and in the input half the rule's `input_error`, by default the
layer's own `update_grad_input` with the rule's B in W's place.

A rule gives B in torch.nn's layout of the weight (`weights`), as biotorch draws and stores
it: Linear's (out, in), which is corebp's Wᵀ; Conv2d's W as it is. The layer's declared torch
counterpart says how the two layouts map (`layout`), so no rule knows a layer type.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any, ClassVar

import torch
from torch import Tensor

from corebp.contracts.choices import OneOf
from corebp.contracts.counterpart import same
from corebp.contracts.layer import Layer, Wrapper
from corebp.contracts.learning_rule import LearningRule
from corebp.errors import ConfigError
from corebp.layers.sequential import Sequential


def layout(layer: Layer) -> Callable[[Tensor], Tensor]:
    """Between the layer's feedback parameter and torch.nn's layout of it (its own inverse)."""
    counterpart = type(layer).torch_counterpart
    if counterpart is None or layer.feedback_param not in counterpart.params:
        return same
    return counterpart.params[layer.feedback_param][1]


class StandIn(Wrapper):
    """A layer whose dL/dx comes from a learning rule; same params, same names."""

    exact_gradient: ClassVar[bool] = False

    def __init__(self, layer: Layer, rule: FeedbackRule, name: str) -> None:
        super().__init__(layer)
        self.rule = rule
        self.name = name
        #: The parameter B takes the place of, and the change to torch.nn's layout of it.
        self.param: str = layer.feedback_param or ""
        self.layout = layout(layer)
        #: The shape of one example of the last forward's input (weight mirrors' noise).
        self.input_shape: tuple[int, ...] | None = None

    @property
    def W(self) -> Tensor:
        """The parameter that B stands in for, in the layer's layout."""
        return self.params[self.param]

    def _forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Any]]:
        self.input_shape = tuple(x.shape[1:])
        y, ctx = self.layer._forward(x)
        return y, (x, ctx)

    def acc_grad_parameters(self, ctx: tuple[Tensor, Any], grad_output: Tensor) -> None:
        self.layer.acc_grad_parameters(ctx[1], grad_output)

    def update_grad_input(
        self, ctx: tuple[Tensor, Any], grad_output: Tensor, params: dict[str, Tensor]
    ) -> Tensor:
        return self.rule.input_error(self, ctx[0], ctx[1], grad_output)

    def __repr__(self) -> str:
        return f"{type(self.rule).__name__}({self.layer!r})"


#: How feedback tensors are drawn when `scale` is not given (see `FeedbackRule`).
CONVENTIONS = ("corebp", "biotorch")


def xavier_std(shape: tuple[int, ...]) -> float:
    """√(2 / (fan_in + fan_out)) of a tensor of torch.nn's layout (out, in, *kernel): the
    standard deviation of xavier init, biotorch's scale."""
    receptive = math.prod(shape[2:])
    return math.sqrt(2 / ((shape[0] + shape[1]) * receptive))


class FeedbackRule(LearningRule):
    """A rule that sends errors down through feedback weights B in place of Wᵀ.

    `convention` says how what is drawn (B, or M for sign symmetry) is distributed:
      corebp    N(0, s²), s = `scale`, or else, per layer, the sample standard deviation of the
                layer's initial W (refused for a layer that sends an error below it when W has
                none: a W of one element or a constant one, such as `init: zeros`, for which
                B would be 0 or NaN);
      biotorch  U(−√3 s, √3 s), s = `scale`, or else xavier's √(2 / (fan_in + fan_out)) of
                B's shape: biotorch's `xavier_uniform_` B and its sign-symmetry scale.

    Args:
        scale: s > 0, the standard deviation of what is drawn (B, or M for sign symmetry);
            null: per layer, as `convention` says.
        convention: the law of what is drawn and the default s: corebp, N(0, s²) with s the
            std of the layer's initial W; biotorch, U(−√3 s, √3 s) with s xavier's
            √(2 / (fan_in + fan_out)).
    """

    exact_gradient: ClassVar[bool] = False
    check_args: ClassVar = [{}, {"convention": "biotorch"}, {"scale": 0.3}]

    def __init__(
        self,
        scale: float | None = None,
        generator: torch.Generator | None = None,
        convention: Annotated[str, OneOf(CONVENTIONS)] = "corebp",
    ):
        super().__init__(generator)
        if scale is not None and not scale > 0:
            raise ConfigError(f"scale={scale!r} must be a positive number (or null).")
        if convention not in CONVENTIONS:
            raise ConfigError(
                f"convention={convention!r} is not one of {', '.join(CONVENTIONS)}; corebp "
                "draws B ~ N(0, std(W₀)²), biotorch xavier-uniform."
            )
        self.scale = scale
        self.convention = convention
        #: The feedback tensors drawn so far, by the layer's position in the model ("0", "3").
        self.feedback: dict[str, Tensor] = {}
        self.scales: dict[str, float] = {}
        self.stand_ins: list[StandIn] = []
        #: What the last backward used in W's place, by layer position (`feedback_weights`).
        self.used: dict[str, Tensor] = {}

    def attach(self, model: Sequential) -> None:
        for i, layer in enumerate(list(model.layers)):
            if layer.feedback_param is not None:
                name = str(i)
                stand_in = StandIn(layer, self, name)
                self.scales[name] = s = self.default_scale(stand_in)
                if not s > 0 and any(above.params for above in model.layers[:i]):
                    raise self.no_spread(stand_in, s)  # an error goes below it in training
                self.stand_ins.append(stand_in)
                model.replace(i, stand_in)
        if not self.stand_ins:
            raise ConfigError(
                f"learning_rule: {type(self).__name__} applies to linear and conv2d layers (and "
                "to any layer class that declares feedback_param), and the model has none at its "
                "top level; use learning_rule: {type: backprop}."
            )

    def default_scale(self, stand_in: StandIn) -> float:
        """s for this layer: `scale`, else as the convention says."""
        if self.scale is not None:
            return self.scale
        if self.convention == "biotorch":
            return xavier_std(self.torch_shape(stand_in))
        W = stand_in.W
        return W.std().item() if W.numel() > 1 else math.nan

    @staticmethod
    def no_spread(stand_in: StandIn, s: float) -> ConfigError:
        """The error for a layer whose initial W gives no scale to draw its feedback with."""
        W = stand_in.W
        return ConfigError(
            f"learning_rule: layer {stand_in.name}'s initial W ({tuple(W.shape)}) has "
            f"no spread (sample standard deviation {s}), so B drawn with it would be "
            f"{'NaN' if math.isnan(s) else 'zero'} and no error would reach below it; set "
            "learning_rule.scale, use learning_rule.convention=biotorch (xavier's scale), "
            "or another init."
        )

    def draw(self, name: str, shape: tuple[int, ...], like: Tensor, scale: float) -> Tensor:
        """The feedback tensor `name`, drawn with standard deviation `scale` by the convention's
        law from the rule's generator on first use (on the CPU, then moved, so it is the same
        numbers on every device)."""
        B = self.feedback.get(name)
        if B is None:
            if not scale > 0:  # the first layer's, drawn only for dL/dx of the model's input
                raise self.no_spread(next(s for s in self.stand_ins if s.name == name), scale)
            B = self.noise(shape).mul_(scale)
            B = self.feedback[name] = B.to(like.device, like.dtype)
        return B

    def noise(self, shape: tuple[int, ...]) -> Tensor:
        """A CPU tensor of unit standard deviation and mean 0 by the convention's law: N(0, 1),
        or U(−√3, √3) for biotorch."""
        if self.convention == "biotorch":
            return torch.rand(shape, generator=self.generator).sub_(0.5).mul_(2 * math.sqrt(3))
        return torch.randn(shape, generator=self.generator)

    def input_error(self, stand_in: StandIn, x: Tensor, ctx: Any, grad_output: Tensor) -> Tensor:
        """The error sent below `stand_in` (x: its input, ctx: the layer's forward cache): by
        default the layer's input half with B in W's place."""
        B = self.used[stand_in.name] = self.weights(stand_in)
        return self.through(stand_in, ctx, grad_output, B)

    def through(self, stand_in: StandIn, ctx: Any, grad_output: Tensor, B: Tensor) -> Tensor:
        """The layer's `update_grad_input` with B (torch.nn's layout) in W's place."""
        params = stand_in.params | {stand_in.param: stand_in.layout(B)}
        return stand_in.layer.update_grad_input(ctx, grad_output, params)

    def weights(self, stand_in: StandIn) -> Tensor:
        """B, the tensor standing in for W in the backward, in torch.nn's layout of W."""
        raise NotImplementedError(f"{type(self).__name__} must implement weights(stand_in)")

    def torch_shape(self, stand_in: StandIn) -> tuple[int, ...]:
        """The shape of B: W's in torch.nn's layout (Linear (out, in), Conv2d W's own)."""
        return tuple(stand_in.layout(stand_in.W).shape)

    def feedback_weights(self) -> dict[int, Tensor]:
        return {
            int(s.name): s.layout(B)
            for s in self.stand_ins
            if (B := self.used.get(s.name)) is not None
        }

    def state_dict(self) -> dict[str, Tensor]:
        return super().state_dict() | {f"B.{k}": B for k, B in self.feedback.items()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        super().load_state_dict(state)
        W = self.stand_ins[0].W
        for key, B in state.items():
            if key.startswith("B."):
                current = self.feedback.get(key[2:])
                if current is not None and current.shape == B.shape:
                    current.copy_(B)  # in place: it may be a tensor the optimizer trains
                else:
                    self.feedback[key[2:]] = B.to(W.device, W.dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scale={self.scale}, convention={self.convention!r})"
