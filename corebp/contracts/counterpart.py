"""How a layer class declares its torch.nn counterpart: one `TorchCounterpart` on the class.

```python
class Swish(Layer):
    torch_counterpart = TorchCounterpart(nn.SiLU)
```

`corebp.inference.interop` (`to_torch`, `from_torch`) and export read it, so a third-party
layer that declares one exports like a built-in one. The declaration belongs to the class
that makes it: a subclass (which may compute something else, e.g. under a learning rule) has
no counterpart until it declares its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn


def transpose(t: Tensor) -> Tensor:
    """A layout change between corebp and torch: the matrix transpose (its own inverse)."""
    return t.t()


def same(t: Tensor) -> Tensor:
    """No layout change."""
    return t


@dataclass(frozen=True)
class TorchCounterpart:
    """One corebp layer class and its torch.nn module type.

    `args(layer)` are the module's constructor arguments; `layer(module)` builds the corebp
    layer (its weights are copied afterwards; default: the class without arguments);
    `params` maps each corebp parameter name to the module's state-dict name and the layout
    change, a function that is its own inverse (`transpose`, or `same`); `buffers` lists the
    buffers, which have the same names and layout on both sides (BatchNorm's running
    statistics). `corebp` is the class that declared it, set when the class is created.
    """

    torch: type[nn.Module]
    args: Callable[[Any], dict[str, Any]] = lambda layer: {}
    layer: Callable[[Any], Any] | None = None
    params: dict[str, tuple[str, Callable[[Tensor], Tensor]]] = field(default_factory=dict)
    buffers: tuple[str, ...] = ()
    corebp: type = field(init=False, default=object)

    def __set_name__(self, owner: type, name: str) -> None:
        object.__setattr__(self, "corebp", owner)

    def to_corebp(self, module: nn.Module) -> Any:
        return self.corebp() if self.layer is None else self.layer(module)
