"""The layer contract, written once: `forward` caches, `backward` consumes the cache.

A concrete layer fills in `_forward(x) -> (y, ctx)` and
`_backward(ctx, grad_y, input_grad) -> grad_x` (accumulating into `self.grads`; when
`input_grad` is False nobody needs dL/dx and it may return None), and optionally
`reference(x, params)`, a plain torch expression of its forward that the gradient checker
differentiates with autograd, and `example()`, a small instance plus an input shape it
accepts, which `corebp check` and the contract tests use to check every registered layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch import Tensor

from corebp.errors import StateError


class _NoCtx:
    """The type of `NO_CTX`; a copied or pickled layer keeps the one sentinel."""

    def __reduce__(self) -> str:
        return "NO_CTX"


#: `_ctx` before the first forward and after each backward (None is a valid cache).
NO_CTX: Any = _NoCtx()


class Layer:
    """Base class of every layer: parameters and gradients side by side, explicit backward."""

    #: False for layers whose backward deliberately is not the gradient of their forward
    #: (alternative learning rules); the checker then reports a difference as expected.
    exact_gradient: ClassVar[bool] = True

    def __init__(self) -> None:
        self.params: dict[str, Tensor] = {}
        self.grads: dict[str, Tensor] = {}
        self.training = True
        self._ctx: Any = NO_CTX

    # -- the contract -------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        """Compute the output and cache what `backward` needs."""
        y, self._ctx = self._forward(x)
        return y

    def backward(self, grad_output: Tensor, input_grad: bool = True) -> Tensor | None:
        """Given dL/dy, accumulate dL/dparams into `grads` and return dL/dx.

        With `input_grad=False` (the first layer of a model, whose input is data) the
        layer may skip computing dL/dx and return None. `grad_output` is handed over: a
        layer may compute dL/dx in its memory (Sigmoid does, which keeps a training step's
        peak memory below autograd's), so pass `grad_output.clone()` to keep it.
        """
        ctx = self._ctx
        if ctx is NO_CTX:
            raise StateError(
                f"{self!r}: backward() called without a preceding forward(); "
                "call forward(x) first (each forward allows one backward)."
            )
        self._ctx = NO_CTX
        return self._backward(ctx, grad_output, input_grad)

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)

    # -- what a concrete layer implements ------------------------------------------------
    def _forward(self, x: Tensor) -> tuple[Tensor, Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement _forward(x)")

    def _backward(self, ctx: Any, grad_output: Tensor, input_grad: bool) -> Tensor | None:
        raise NotImplementedError(
            f"{type(self).__name__} must implement _backward(ctx, grad_output, input_grad)"
        )

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        """The forward as a plain torch expression of `x` and `params` (for autograd checks)."""
        raise NotImplementedError(f"{type(self).__name__} provides no autograd reference")

    @classmethod
    def example(
        cls, batch: int = 4, features: int = 5, **overrides: Any
    ) -> tuple[Layer, tuple[int, ...]]:
        """A small instance (constructor defaults, updated by `overrides`) and an input shape.

        The default suits layers whose constructor needs no argument and that take
        (batch, features) input; a layer with required arguments overrides it.
        """
        return default_example(cls, overrides), (batch, features)

    # -- parameters ----------------------------------------------------------------------
    def add_param(self, name: str, value: Tensor) -> Tensor:
        """Register a parameter and its zero gradient slot under the same name."""
        self.params[name] = value
        self.grads[name] = torch.zeros_like(value)
        return value

    def named_params(self) -> Iterator[tuple[str, Tensor, Tensor]]:
        """Yield (name, parameter, gradient) for every parameter, nested names dotted."""
        for name, p in self.params.items():
            yield name, p, self.grads[name]

    def zero_grad(self) -> None:
        """Reset every gradient to 0 (gradients accumulate over backward calls until then)."""
        for g in self.grads.values():
            g.zero_()

    def train(self, mode: bool = True) -> Layer:
        self.training = mode
        return self

    def eval(self) -> Layer:
        return self.train(False)

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> Layer:
        """Move parameters and gradients (in place of the dict entries) to a device/dtype."""
        for store in (self.params, self.grads):
            for name, t in store.items():
                store[name] = t.to(device=device, dtype=dtype)
        return self

    # -- display -------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


def default_example(cls: type[Any], overrides: dict[str, Any]) -> Any:
    """`cls(**overrides)`, or NotImplementedError asking for an `example()` of its own.

    The default `example()` of both `Layer` and `Loss`.
    """
    try:
        return cls(**overrides)
    except TypeError as e:
        raise NotImplementedError(
            f"{cls.__name__} cannot be built without arguments ({e}); "
            "define the classmethod example() to check it."
        ) from e
