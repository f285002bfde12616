"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from corebp.contracts.optimizer import Optimizer
from corebp.errors import ConfigError


class Adam(Optimizer):
    """The update of `torch.optim.Adam`, per parameter p with gradient g, at step t = 1, 2, …:

        g = g + λ·p                          (L2 weight decay λ; AdamW decays p instead)
        m = β₁·m + (1 − β₁)·g                v = β₂·v + (1 − β₂)·g²
        v̂ = max(v̂, v) with AMSGrad, else v̂ = v
        p ← p − (η / (1 − β₁ᵗ)) · m / (√v̂ / √(1 − β₂ᵗ) + ε)

    State per parameter: `exp_avg` (m), `exp_avg_sq` (v) and, with AMSGrad, `max_exp_avg_sq`.
    The step count t is the optimizer's `steps` (saved in `state_dict`).

    Args:
        lr: the learning rate η.
        betas: (β₁, β₂), the decay rates of the moment estimates m and v.
        eps: ε, added to the denominator for numerical stability.
        weight_decay: λ: Adam adds λ·p to the gradient, AdamW shrinks p by η·λ.
        amsgrad: use the running maximum of v (AMSGrad).
    """

    torch_counterpart: ClassVar[type[torch.optim.Optimizer] | None] = torch.optim.Adam
    check_args: ClassVar = [
        {"lr": 1e-2},
        {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1},
        {"lr": 1e-2, "weight_decay": 1e-2, "amsgrad": True},
    ]

    #: True in AdamW: weight decay shrinks p directly (p ← p·(1 − η·λ)) instead of adding λ·p to g.
    decoupled_weight_decay = False

    def __init__(
        self,
        params: dict[str, Tensor],
        grads: dict[str, Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, grads, lr)
        name = type(self).__name__
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ConfigError(f"{name}: betas={betas!r} must be two numbers in [0, 1).")
        for key, value in (("lr", lr), ("eps", eps), ("weight_decay", weight_decay)):
            if value < 0:
                raise ConfigError(f"{name}: {key}={value} must be >= 0.")
        self.beta1, self.beta2 = float(betas[0]), float(betas[1])
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.amsgrad = bool(amsgrad)

    def step(self) -> None:
        self.steps += 1
        t, lr, wd = self.steps, self.lr, self.weight_decay
        b1, b2 = self.beta1, self.beta2
        step_size = lr / (1 - b1**t)
        bias_correction2_sqrt = (1 - b2**t) ** 0.5
        for name, p in self.params.items():
            g = self.grads[name]
            if wd != 0:
                if self.decoupled_weight_decay:
                    p.mul_(1 - lr * wd)
                else:
                    g = g.add(p, alpha=wd)
            state = self.state[name]
            if not state:
                state["exp_avg"] = torch.zeros_like(p)
                state["exp_avg_sq"] = torch.zeros_like(p)
                if self.amsgrad:
                    state["max_exp_avg_sq"] = torch.zeros_like(p)
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            if self.amsgrad:
                v = torch.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            denom = (v.sqrt() / bias_correction2_sqrt).add_(self.eps)
            p.addcdiv_(m, denom, value=-step_size)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(lr={self.lr:g}, betas=({self.beta1:g}, {self.beta2:g}), "
            f"eps={self.eps:g}, weight_decay={self.weight_decay:g}, amsgrad={self.amsgrad})"
        )


class AdamW(Adam):
    """Adam with decoupled weight decay (`torch.optim.AdamW`): p ← p·(1 − η·λ) before the
    Adam step, instead of adding λ·p to the gradient. Default λ = 0.01, as in torch."""

    torch_counterpart: ClassVar[type[torch.optim.Optimizer] | None] = torch.optim.AdamW
    decoupled_weight_decay = True
    check_args: ClassVar = [
        {"lr": 1e-2, "eps": 1e-6},
        {"lr": 1e-2, "weight_decay": 0.1, "amsgrad": True},
    ]

    def __init__(
        self,
        params: dict[str, Tensor],
        grads: dict[str, Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, grads, lr, betas, eps, weight_decay, amsgrad)
