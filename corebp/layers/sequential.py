"""Sequential: layers applied in order forward, in reverse order backward."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NoReturn

import torch
from torch import Tensor

from corebp.contracts.layer import Layer
from corebp.errors import ConfigError, CorebpError, ShapeError

#: How torch's plain RuntimeErrors word a shape mismatch ("mat1 and mat2 shapes cannot be
#: multiplied", "The size of tensor a (3) must match ... dimension 1").
_SHAPE_PROBLEM = re.compile(r"shape|size|dimension", re.IGNORECASE)


class Sequential(Layer):
    """y = f_n(...f_1(x)); backward runs the layers' backward in reverse order.

    Parameters are named "<index>.<name>" ("0.W", "2.W"), nested Sequentials "1.0.W".
    `params` and `grads` are flat dicts of the children's own tensors, not copies.
    """

    def __init__(self, *layers: Layer) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"Sequential: item {i} is {type(layer).__name__}, expected a corebp Layer."
                )
            for j in range(i):
                if layers[j] is layer:
                    # One object holds one forward cache, so a second use would overwrite it.
                    raise ConfigError(
                        f"Sequential: item {i} ({layer!r}) is the same object as item {j}; "
                        "pass a new instance for each position."
                    )
        self.layers: list[Layer] = list(layers)
        self._collect()

    def _collect(self) -> None:
        self.params.clear()  # the same dicts, refilled: an optimizer may hold them
        self.grads.clear()
        for name, p, g in self.named_params():
            self.params[name] = p
            self.grads[name] = g
        self.buffers = dict(self.named_buffers())
        # Layer i must return dL/dx only if an earlier layer has parameters to train
        # (or the caller asked for dL/dx of the whole model).
        seen = False
        self._params_before: list[bool] = []
        for layer in self.layers:
            self._params_before.append(seen)
            seen = seen or any(True for _ in layer.named_params())

    def named_params(self) -> Iterator[tuple[str, Tensor, Tensor]]:
        for i, layer in enumerate(self.layers):
            for name, p, g in layer.named_params():
                yield f"{i}.{name}", p, g

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        for i, layer in enumerate(self.layers):
            for name, b in layer.named_buffers():
                yield f"{i}.{name}", b

    def _where(self, i: int, phase: str) -> str:
        name = repr(self.layers[i])
        if "\n" in name:  # a nested Sequential: its own message names the inner layer
            name = f"{type(self.layers[i]).__name__}(...)"
        return f"layer {i} ({name}) during {phase}"

    def _raise_in(self, i: int, phase: str, e: Exception) -> NoReturn:
        """Re-raise `e` from layer i with the layer and phase in front of its message.

        torch's shape mismatches become a ShapeError; every other error keeps its type
        (dtype, device, out of memory, autograd, corebp's own...).
        """
        where = self._where(i, phase)
        if type(e) is RuntimeError and _SHAPE_PROBLEM.search(str(e)):
            raise ShapeError(f"{where}: {e}") from e
        try:
            relabelled = type(e)(f"{where}: {e}")
        except Exception:  # a type that is not built from one message: keep it as it is
            raise e from None
        raise relabelled from (None if isinstance(e, CorebpError) else e)

    def forward(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers):
            try:
                x = layer.forward(x)
            except Exception as e:
                self._raise_in(i, "forward", e)
        return x

    def backward(self, grad_output: Tensor, input_grad: bool = True) -> Tensor | None:
        grad: Tensor | None = grad_output
        for i in range(len(self.layers) - 1, -1, -1):
            if grad is None:  # layers 0..i hold no parameters and nobody asked for dL/dx
                break
            try:
                need = input_grad or self._params_before[i]
                grad = self.layers[i].backward(grad, need)
            except Exception as e:
                self._raise_in(i, "backward", e)
        return grad

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        outputs = self.reference_outputs(x, params)
        return outputs[-1] if outputs else x

    def reference_outputs(self, x: Tensor, params: dict[str, Tensor]) -> list[Tensor]:
        """Every layer's output in `reference`'s composition, in order (for autograd)."""
        outputs = []
        for i, layer in enumerate(self.layers):
            prefix = f"{i}."
            own = {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}
            x = layer.reference(x, own)
            outputs.append(x)
        return outputs

    def zero_grad(self) -> None:
        for layer in self.layers:
            layer.zero_grad()

    def train(self, mode: bool = True) -> Sequential:
        self.training = mode
        for layer in self.layers:
            layer.train(mode)
        return self

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> Sequential:
        for layer in self.layers:
            layer.to(device=device, dtype=dtype)
        self._collect()
        return self

    def replace(self, i: int, layer: Layer) -> None:
        """Put `layer` at position i (a learning rule's stand-in for the layer there).

        The parameters keep their names and `params`/`grads` stay the same dicts, so an
        optimizer built before still updates them.
        """
        self.layers[i] = layer
        self._collect()

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Layer:
        return self.layers[i]

    def __repr__(self) -> str:
        if not self.layers:
            return "Sequential()"
        body = "\n".join(
            f"  ({i}): " + repr(layer).replace("\n", "\n  ") for i, layer in enumerate(self.layers)
        )
        return f"Sequential(\n{body}\n)"
