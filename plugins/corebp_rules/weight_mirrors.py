"""Weight mirrors (Akrout et al. 2019, "Deep learning without weight transport"): B, in Wᵀ's
place, learns Wᵀ from the layer's response to noise, without reading W.

The backward is `fa`'s: δx = δy B. Between updates, in mirror phases, each layer that sends
an error below it is driven by noise x, uniform with mean 0 and standard deviation σ (`noise`;
`batch_size` examples of the layer's input shape; uniform as in the authors' code, and cheaper
to draw than normal noise), and B learns from the correlation of the noise with the layer's linear
response y = f(x) − f(0) (its forward less its bias):

    B ← (1 − λ) B + η · C,    C = xᵀ y / m   in torch.nn's layout of W,

computed by the layer's own parameter half (`acc_grad_parameters(ctx, y)`, so it is xᵀ y for
Linear and the weight correlation for Conv2d), m the number of output positions (the batch,
times H·W for a convolution). E[C] = σ² W, so B tends to (η σ² / λ) W: with the defaults
η = λ = 0.01, σ = 1, to W itself, with a time constant of 1/λ mirror steps. λ: `decay`,
η: `rate`.

Schedule: `initial` mirror steps before the first backward (B₀ is drawn like `fa`'s), then
`batches` mirror steps after every `every`-th update. The authors' code (makrout/Deep-
Learning-without-Weight-Transport, fcnn/FCNN_WM.py) mirrors one epoch of batches before
training and one batch after every update, with noise through the layer's sigmoid and no
decay; the differences are stated in docs/learning-rules.md.
"""

from __future__ import annotations

import math
from typing import Annotated, ClassVar

import torch
from torch import Tensor

from corebp.contracts.choices import OneOf
from corebp.errors import ConfigError
from corebp.layers.sequential import Sequential
from corebp_rules.feedback import CONVENTIONS, FeedbackRule, StandIn


def _positive_int(name: str, value: object, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"wm: {name}={value!r} must be an integer ≥ {minimum}.")
    return value


class WeightMirrors(FeedbackRule):
    """wm: `fa`'s backward, with B learning W from the layer's response to noise.

    Args:
        scale: the standard deviation of B₀; None: as `convention` says.
        rate: η, the mirror's learning rate.
        decay: λ, B's decay per mirror step, in [0, 1).
        noise: σ, the standard deviation of the uniform noise driven through each layer.
        every: a mirror phase after every `every`-th update.
        batches: mirror steps (noise batches) per phase.
        batch_size: examples per noise batch.
        initial: mirror steps before the first backward.
        convention: how B₀ is drawn, as `fa`'s: corebp (N(0, std(W₀)²)) or biotorch
            (xavier-uniform).
    """

    check_args: ClassVar = [
        {},
        {"rate": 0.05, "decay": 0.1, "noise": 0.5, "every": 2, "batches": 2},
        {"batch_size": 8, "initial": 3, "scale": 0.3, "convention": "biotorch"},
    ]

    def __init__(
        self,
        scale: float | None = None,
        rate: float = 0.01,
        decay: float = 0.01,
        noise: float = 1.0,
        every: int = 1,
        batches: int = 1,
        batch_size: int = 64,
        initial: int = 500,
        generator: torch.Generator | None = None,
        convention: Annotated[str, OneOf(CONVENTIONS)] = "corebp",
    ) -> None:
        super().__init__(scale, generator, convention)
        for name, value in (("rate", rate), ("noise", noise)):
            if not value > 0:
                raise ConfigError(f"wm: {name}={value!r} must be a positive number.")
        if not 0 <= decay < 1:
            raise ConfigError(f"wm: decay={decay!r} must be in [0, 1).")
        self.rate, self.decay, self.sigma = float(rate), float(decay), float(noise)
        self.every = _positive_int("every", every)
        self.batches = _positive_int("batches", batches)
        self.batch_size = _positive_int("batch_size", batch_size)
        self.initial = _positive_int("initial", initial, minimum=0)
        #: Updates seen since the start, and whether the initial phase ran (checkpointed).
        self.updates = 0
        self.started = False
        self.mirrored: list[StandIn] = []

    def attach(self, model: Sequential) -> None:
        super().attach(model)
        for s in self.stand_ins:
            if any(layer.params for layer in model.layers[: int(s.name)]):
                self.draw(s.name, self.torch_shape(s), s.W, self.scales[s.name])
                self.mirrored.append(s)

    def weights(self, stand_in: StandIn) -> Tensor:
        """B; for a layer that is not mirrored (its input is the model's), one drawn like
        `fa`'s on first use: only a caller asking for dL/dx of the model's input reaches it."""
        name = stand_in.name
        return self.draw(name, self.torch_shape(stand_in), stand_in.W, self.scales[name])

    def before_backward(self, x: Tensor, y: Tensor) -> None:
        if not self.started:
            self.started = True
            self.mirror(self.initial)

    def after_update(self) -> None:
        self.updates += 1
        if self.updates % self.every == 0:
            self.mirror(self.batches)

    def mirror(self, steps: int) -> None:
        """`steps` mirror steps for every layer that sends an error below it (each layer's
        input shape is the last forward's)."""
        for s in self.mirrored:
            if s.input_shape is None:
                raise ConfigError("wm: mirror() before the model's first forward.")
            for _ in range(steps):
                self._mirror_step(s, s.input_shape)

    def _mirror_step(self, s: StandIn, shape: tuple[int, ...]) -> None:
        B, W = self.feedback[s.name], s.W
        x = torch.rand((self.batch_size, *shape), generator=self.generator)
        x = x.sub_(0.5).mul_(self.sigma * math.sqrt(12)).to(W.device, W.dtype)
        layer = s.layer
        y, ctx = layer._forward(x)
        y = y - layer._forward(torch.zeros_like(x[:1]))[0]  # the linear response
        layer.acc_grad_parameters(ctx, y)
        C = s.layout(layer.grads[s.param])
        B.mul_(1 - self.decay).add_(C, alpha=self.rate * y.shape[1] / y.numel())
        layer.zero_grad()

    def state_dict(self) -> dict[str, Tensor]:
        counts = torch.tensor([self.updates, int(self.started)])
        return super().state_dict() | {"mirror": counts}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        if "mirror" not in state:
            raise ConfigError(
                "WeightMirrors.load_state_dict: the state has no 'mirror'; expected a dict "
                "from state_dict() of wm on the same model."
            )
        super().load_state_dict(state)
        self.updates, started = (int(v) for v in state["mirror"].tolist())
        self.started = bool(started)

    def __repr__(self) -> str:
        return (
            f"WeightMirrors(scale={self.scale}, convention={self.convention!r}, "
            f"rate={self.rate}, decay={self.decay}, "
            f"noise={self.sigma}, every={self.every}, batches={self.batches}, "
            f"batch_size={self.batch_size}, initial={self.initial})"
        )
