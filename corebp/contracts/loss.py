"""The loss contract: `forward(prediction, target) -> 0-dim loss`, `backward() -> dL/dpred`."""

from __future__ import annotations

import functools
import math
from typing import Any, ClassVar

import torch
from torch import Tensor

from corebp.contracts.layer import NO_CTX, default_example
from corebp.errors import ConfigError, ShapeError, StateError, did_you_mean

REDUCTIONS = ("mean", "sum")


class Loss:
    """Base class of every loss. Subclasses implement `_forward` and `_backward`."""

    exact_gradient: ClassVar[bool] = True
    #: "sum", or "mean": the average of the examples' own losses (over their elements too).
    reduction: str = "mean"

    def __init__(self) -> None:
        self._ctx: Any = NO_CTX

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        """Return the 0-dim loss and cache what `backward` needs."""
        loss, self._ctx = self._forward(prediction, target)
        return loss

    def backward(self) -> Tensor:
        """Return dL/dprediction for the last `forward`."""
        ctx = self._ctx
        if ctx is NO_CTX:
            raise StateError(
                f"{self!r}: backward() called without a preceding forward(prediction, target); "
                "call forward first (each forward allows one backward)."
            )
        self._ctx = NO_CTX
        return self._backward(ctx)

    def __call__(self, prediction: Tensor, target: Tensor) -> Tensor:
        return self.forward(prediction, target)

    def summed_over_examples(self, loss: Tensor, batch_size: int) -> Tensor:
        """Σ_n L(example n): the sum, over the batch's examples, of the loss each would have in
        a batch of its own, given the batch's `loss`. What the trainer reports as the loss.

        Under "sum" that is `loss` itself; under "mean" (an average of per-example losses)
        it is `loss · batch_size`. A loss that reduces otherwise overrides this.
        """
        return loss if self.reduction == "sum" else loss * batch_size

    def _forward(self, prediction: Tensor, target: Tensor) -> tuple[Tensor, Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement _forward")

    def _backward(self, ctx: Any) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement _backward")

    def reference(self, prediction: Tensor, target: Tensor) -> Tensor:
        """The loss as a plain torch expression (for autograd checks)."""
        raise NotImplementedError(f"{type(self).__name__} provides no autograd reference")

    @classmethod
    def example(
        cls, batch: int = 4, features: int = 3, **overrides: Any
    ) -> tuple[Loss, tuple[int, ...]]:
        """A small instance (defaults, updated by `overrides`) and a prediction shape."""
        return default_example(cls, overrides), (batch, features)

    def example_inputs(
        self, shape: tuple[int, ...], *, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """A float64 (prediction, target) pair this loss accepts, for gradient checks.

        The default is a standard-normal prediction and a float target of the same shape;
        losses that take class indices or probabilities override it.
        """
        prediction = torch.randn(shape, dtype=torch.float64, generator=generator)
        return prediction, torch.randn(shape, dtype=torch.float64, generator=generator)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


def check_reduction(loss_name: str, reduction: str) -> str:
    """Return `reduction` if it is "mean" or "sum", else raise a ConfigError naming the choices."""
    if reduction not in REDUCTIONS:
        raise ConfigError(
            f"{loss_name}: reduction={reduction!r} is not supported; expected 'mean' or 'sum'."
            f"{did_you_mean(str(reduction), REDUCTIONS)}"
        )
    return reduction


def reduction_factor(reduction: str, n: int, scale: float = 1.0) -> float:
    """`scale` for "sum", `scale / n` for "mean" over n terms (nan when n = 0, as in torch)."""
    if reduction == "sum":
        return scale
    return scale / n if n else math.nan


def class_targets(loss: Loss, prediction: Tensor, target: Tensor) -> Tensor:
    """Check that `target` holds one class index per row of a (N, C) `prediction`."""
    if prediction.dim() != 2:
        raise ShapeError(
            f"{loss!r}: expected prediction of shape (batch, classes), "
            f"got {tuple(prediction.shape)}."
        )
    n = prediction.shape[0]
    if target.dim() != 1 or target.shape[0] != n or target.dtype.is_floating_point:
        raise ShapeError(
            f"{loss!r}: expected integer class targets of shape ({n},), got "
            f"{target.dtype} of shape {tuple(target.shape)}."
        )
    return target


def one_hot(loss: Loss, prediction: Tensor, target: Tensor) -> Tensor:
    """Return `target` as a float one-hot (N, C) tensor if it holds class indices."""
    if target.dtype.is_floating_point:
        if target.shape != prediction.shape:
            raise ShapeError(
                f"{loss!r}: target shape {tuple(target.shape)} does not match prediction shape "
                f"{tuple(prediction.shape)}; pass a tensor of the same shape or integer class "
                "indices."
            )
        return target
    class_targets(loss, prediction, target)
    return _identity(prediction.shape[1], prediction.dtype, prediction.device).index_select(
        0, target
    )


@functools.cache
def _identity(n: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """The n×n identity, kept per dtype and device: its rows are the one-hot vectors."""
    return torch.eye(n, dtype=dtype, device=device)
