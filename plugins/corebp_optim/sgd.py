"""SGD: stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from corebp.contracts.optimizer import Optimizer
from corebp.errors import ConfigError


class SGD(Optimizer):
    """The update of `torch.optim.SGD`, written out per parameter p with gradient g:

        d = g + λ·p                                  (weight decay λ)
        b = d  on the first step,  else  b = μ·b + (1 − τ)·d   (momentum μ, dampening τ)
        d = d + μ·b  with Nesterov,  else  d = b     (only when μ ≠ 0)
        p ← p − η·d                                  (learning rate η)

    State: `momentum_buffer` (b) per parameter, only when μ ≠ 0. Without momentum and
    weight decay a step is one in-place `p.add_(g, alpha=-η)` per parameter.

    Args:
        lr: the learning rate η.
        momentum: the momentum factor μ; 0 turns momentum off.
        dampening: the dampening τ of the momentum buffer's update.
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening 0).
        weight_decay: the L2 penalty λ, added to the gradient as λ·p.
    """

    torch_counterpart = torch.optim.SGD
    check_args: ClassVar = [
        {"lr": 0.05},
        {"lr": 0.05, "momentum": 0.9},
        {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 1e-2},
        {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-4},
    ]

    def __init__(
        self,
        params: dict[str, Tensor],
        grads: dict[str, Tensor],
        lr: float = 0.1,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, grads, lr)
        for name, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)):
            if value < 0:
                raise ConfigError(f"SGD: {name}={value} must be >= 0.")
        if nesterov and (momentum == 0 or dampening != 0):
            raise ConfigError(
                f"SGD: nesterov=True needs momentum > 0 and dampening = 0 (got momentum="
                f"{momentum}, dampening={dampening}); set momentum or drop nesterov."
            )
        self.momentum = float(momentum)
        self.dampening = float(dampening)
        self.nesterov = bool(nesterov)
        self.weight_decay = float(weight_decay)

    def step(self) -> None:
        mu, wd = self.momentum, self.weight_decay
        for name, p in self.params.items():
            d = self.grads[name]
            if wd != 0:
                d = d.add(p, alpha=wd)
            if mu != 0:
                state = self.state[name]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = d.clone()
                else:
                    buf.mul_(mu).add_(d, alpha=1 - self.dampening)
                d = d.add(buf, alpha=mu) if self.nesterov else buf
            p.add_(d, alpha=-self.lr)
        self.steps += 1

    def __repr__(self) -> str:
        return (
            f"SGD(lr={self.lr:g}, momentum={self.momentum:g}, dampening={self.dampening:g}, "
            f"nesterov={self.nesterov}, weight_decay={self.weight_decay:g})"
        )
