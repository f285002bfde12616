"""Dropout: zero random inputs while training (inverted dropout); identity in eval mode."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from corebp.contracts.counterpart import TorchCounterpart
from corebp.contracts.layer import Layer
from corebp.errors import ConfigError, StateError


class Dropout(Layer):
    """Training: y = x ⊙ m, m_i = [u_i ≥ p] / (1 − p), u_i ~ U(0, 1) drawn per forward; eval: y = x.

    Backward: dx = g ⊙ m with the cached mask m (eval: dx = g). Any shape.
    The mask is drawn from `generator`, or from a private generator seeded with `seed`
    (reproducible; re-seeded when `to(device)` moves the layer), else from torch's global RNG.
    The last training mask stays in `mask` after backward (for inspection and `reference`).

    Args:
        p: the probability in [0, 1) that an input is zeroed in training; 0: identity.
        seed: the seed of a mask generator of the layer's own (masks that do not depend
            on other draws); null: torch's global generator, which a run seeds with train.seed.
    """

    torch_counterpart: ClassVar = TorchCounterpart(
        nn.Dropout, lambda layer: {"p": layer.p}, lambda m: Dropout(m.p)
    )

    check_args: ClassVar = [{}, {"p": 0.2}]

    def __init__(
        self,
        p: float = 0.5,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
            raise ConfigError(
                f"Dropout: p={p!r} must be a probability in [0, 1) (the share of inputs zeroed)."
            )
        if seed is not None and generator is not None:
            raise ConfigError("Dropout: pass either seed or generator, not both.")
        self.p = float(p)
        self.seed = seed
        self.generator = generator
        if seed is not None:
            self.generator = torch.Generator().manual_seed(seed)
        self.mask: Tensor | None = None

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        if not self.training or self.p == 0:
            return x, None
        mask = torch.empty_like(x).bernoulli_(1 - self.p, generator=self.generator)
        self.mask = mask.div_(1 - self.p)
        return x * mask, mask

    def update_grad_input(
        self, mask: Tensor | None, grad_output: Tensor, params: dict[str, Tensor]
    ) -> Tensor:
        return grad_output if mask is None else grad_output * mask

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> Dropout:
        device = None if device is None else torch.device(device)
        if (
            device is not None
            and self.seed is not None
            and self.generator is not None
            and device.type != self.generator.device.type
        ):
            self.generator = torch.Generator(device=device).manual_seed(self.seed)
        return self

    @classmethod
    def example(
        cls, batch: int = 4, features: int = 5, **overrides: Any
    ) -> tuple[Dropout, tuple[int, int]]:
        return cls(**{"p": 0.5, "seed": 0, **overrides}), (batch, features)

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        """x ⊙ m with the mask of the last training forward (x in eval mode)."""
        if not self.training or self.p == 0:
            return x
        if self.mask is None:
            raise StateError(
                f"{self!r}: reference() in training mode needs the mask of a training forward; "
                "call forward(x) first, or eval() for the identity."
            )
        return x * self.mask

    def extra_repr(self) -> str:
        return f"p={self.p:g}" + (f", seed={self.seed}" if self.seed is not None else "")
