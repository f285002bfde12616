"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"): sign of momentum."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

import corebp


class Lion(corebp.Optimizer):
    """Per parameter p with gradient g and momentum m (initially 0):

        p ← p · (1 − η·λ)                         (decoupled weight decay λ)
        p ← p − η · sign(β₁·m + (1 − β₁)·g)
        m ← β₂·m + (1 − β₂)·g

    Every coordinate moves by exactly η (or 0 where the sign is 0). State: `exp_avg` (m).
    torch has no Lion, so `torch_counterpart` stays None; the tests write the rule out.

    Args:
        lr: the learning rate η, the size of every coordinate's step.
        betas: (β₁, β₂): β₁ mixes momentum and gradient for the step's sign, β₂ updates m.
        weight_decay: the decoupled weight decay λ.
    """

    #: The argument sets corebp's conformance kit checks (corebp.testing).
    check_args: ClassVar = [{}, {"lr": 0.01, "betas": (0.8, 0.95), "weight_decay": 0.1}]

    def __init__(
        self,
        params: dict[str, Tensor],
        grads: dict[str, Tensor],
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, grads, lr)
        if len(betas) != 2 or not all(0.0 <= b <= 1.0 for b in betas):
            raise corebp.ConfigError(f"Lion: betas={betas!r} must be two numbers in [0, 1].")
        if lr < 0 or weight_decay < 0:
            raise corebp.ConfigError(
                f"Lion: lr={lr} and weight_decay={weight_decay} must both be >= 0."
            )
        self.beta1, self.beta2 = float(betas[0]), float(betas[1])
        self.weight_decay = float(weight_decay)

    def step(self) -> None:
        for name, p in self.params.items():
            g = self.grads[name]
            if self.weight_decay != 0:
                p.mul_(1 - self.lr * self.weight_decay)
            m = self.state[name].get("exp_avg")
            if m is None:
                m = self.state[name]["exp_avg"] = torch.zeros_like(p)
            p.add_(m.lerp(g, 1 - self.beta1).sign_(), alpha=-self.lr)
            m.lerp_(g, 1 - self.beta2)
        self.steps += 1
