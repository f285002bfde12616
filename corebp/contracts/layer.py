"""The layer contract, written once: `forward` caches, `backward` consumes the cache.

A concrete layer fills in `_forward(x) -> (y, ctx)` and the two halves of its backward, as
Lua Torch's `updateGradInput` / `accGradParameters`:

- `update_grad_input(ctx, grad_y, params) -> grad_x`: dL/dx, computed from `params` (the
  layer's own in backprop; a learning rule passes its B in W's place);
- `acc_grad_parameters(ctx, grad_y)`: adds dL/dparams into `self.grads` (default: nothing,
  for a layer without parameters).

`backward` calls both (dL/dx only when `input_grad`). Optionally a layer gives
`reference(x, params)`, a plain torch expression of its forward that the gradient checker
differentiates with autograd, `example()`, a small instance plus an input shape it accepts
(`corebp check` and the contract tests check every registered layer with it), and
`torch_counterpart`, the torch.nn module it matches (`corebp.contracts.counterpart`;
export and interop read it).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor

from corebp.errors import StateError

if TYPE_CHECKING:
    from corebp.contracts.counterpart import TorchCounterpart


class _NoCtx(enum.Enum):
    """The "no forward cache" marker: an enum member, so copies and pickles keep its identity."""

    NO_CTX = "no forward cache"


#: `_ctx` of a layer or loss before the first forward and after each backward (None is a
#: valid cache, so it cannot serve as the marker).
NO_CTX: Any = _NoCtx.NO_CTX


class Layer:
    """Base class of every layer: parameters and gradients side by side, explicit backward."""

    #: False for layers whose backward deliberately is not the gradient of their forward
    #: (alternative learning rules); the checker then reports a difference as expected.
    exact_gradient: ClassVar[bool] = True
    #: The parameter whose transpose carries the error down in backprop (W for Linear and
    #: Conv2d): a feedback learning rule sends errors through a tensor of its own in its place
    #: (`update_grad_input(ctx, g, params | {name: B})`). None: no rule replaces it.
    feedback_param: ClassVar[str | None] = None
    #: How this layer becomes a torch.nn module (`corebp.contracts.counterpart`), or None
    #: when it has no counterpart (export then refuses a model that contains it).
    torch_counterpart: ClassVar[TorchCounterpart | None] = None

    def __init__(self) -> None:
        self.params: dict[str, Tensor] = {}
        self.grads: dict[str, Tensor] = {}
        #: State that is not trained (BatchNorm's running statistics): saved in checkpoints,
        #: moved by `to()`, never seen by an optimizer.
        self.buffers: dict[str, Tensor] = {}
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
        layer may skip computing dL/dx and return None.

        A layer never writes into its caller's tensors: `forward` leaves x as it was,
        `backward` leaves `grad_output` as it was and accepts any tensor of y's shape, an
        expanded one (autograd's `ones(()).expand(...)`) included; the dL/dx it returns may
        be `grad_output` itself or a view of it where nothing changes. Writing dL/dx into
        `grad_output`'s memory is an opt-in the model's builder declares on the layer, as
        torch's `inplace=True` (`Sigmoid(inplace=True)`): it says the gradient handed to
        that layer's backward is the layer's to overwrite.
        """
        ctx = self._ctx
        if ctx is NO_CTX:
            raise StateError(
                f"{self!r}: backward() called without a preceding forward(); "
                "call forward(x) first (each forward allows one backward)."
            )
        self._ctx = NO_CTX
        return self._backward(ctx, grad_output, input_grad)

    def _backward(self, ctx: Any, grad_output: Tensor, input_grad: bool) -> Tensor | None:
        """Both halves: dL/dparams into `grads`, then dL/dx from the layer's own parameters
        (first, so that a layer that writes dL/dx in place cannot touch what the parameter
        half reads). A test's deliberately broken variant of a layer may wrap this."""
        self.acc_grad_parameters(ctx, grad_output)
        return self.update_grad_input(ctx, grad_output, self.params) if input_grad else None

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)

    # -- what a concrete layer implements ------------------------------------------------
    def _forward(self, x: Tensor) -> tuple[Tensor, Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement _forward(x)")

    def update_grad_input(self, ctx: Any, grad_output: Tensor, params: dict[str, Tensor]) -> Tensor:
        """dL/dx for dL/dy = `grad_output`, with `params` in the parameters' place."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement update_grad_input(ctx, grad_output, params)"
        )

    def acc_grad_parameters(self, ctx: Any, grad_output: Tensor) -> None:
        """Add dL/dparams for dL/dy = `grad_output` into `self.grads` (no parameters: nothing)."""

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

    def add_buffer(self, name: str, value: Tensor) -> Tensor:
        """Register a buffer: state updated by `forward` itself, not by an optimizer."""
        self.buffers[name] = value
        return value

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        """Yield (name, buffer) for every buffer, nested names dotted."""
        yield from self.buffers.items()

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
        """Move parameters, gradients and buffers to a device/dtype in place, as `Module.to`.

        Each tensor object stays the same (its data is replaced), so whatever holds it (an
        optimizer built before the move, a Sequential's flat dicts) now holds the moved tensor.
        As in torch, `dtype` casts only floating-point tensors (a step counter stays int64).
        """
        for t in (*self.params.values(), *self.grads.values(), *self.buffers.values()):
            cast = dtype if t.is_floating_point() else None
            t.data = t.data.to(device=device, dtype=cast)
        return self

    # -- display -------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        buffers = f"; buffers: {', '.join(self.buffers)}" if self.buffers else ""
        return f"{type(self).__name__}({self.extra_repr()}{buffers})"


class Wrapper(Layer):
    """A layer in another layer's place: the same `params`, `grads` and `buffers` dicts (so
    parameter names, optimizers and checkpoints are unchanged), `reference` and `train`
    delegated to it; a subclass says what its `_forward` and `_backward` add. A learning
    rule's stand-ins and the alignment check's taps are wrappers."""

    def __init__(self, layer: Layer) -> None:
        super().__init__()
        self.layer = layer
        self.params, self.grads, self.buffers = layer.params, layer.grads, layer.buffers

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        return self.layer.reference(x, params)

    def train(self, mode: bool = True) -> Wrapper:
        self.training = mode
        self.layer.train(mode)
        return self

    def __repr__(self) -> str:
        return repr(self.layer)


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
