"""Linear: an affine map with W stored as (in_features, out_features), as in the notebook."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import torch
from torch import Tensor, nn

from corebp.contracts.choices import OneOf
from corebp.contracts.counterpart import TorchCounterpart, same, transpose
from corebp.contracts.layer import Layer
from corebp.errors import ConfigError, ShapeError
from corebp.layers.init import INITIALISERS, initialise


class Linear(Layer):
    """y = x @ W + b.  x: (N, in), W: (in, out), b: (out,), y: (N, out).

    Backward: dW += xᵀ @ g, db += Σ_n g, dx = g @ Wᵀ, with g = dL/dy of shape (N, out).

    Args:
        in_features: inputs per example (x's columns, W's rows), ≥ 1.
        out_features: outputs per example (y's columns, W's columns), ≥ 1.
        bias: whether to add b (initialised to zeros); false: y = x @ W.
        init: how W is drawn (the init table of docs/reference.md); uniform is
            U(−1/√in, 1/√in), torch.nn.Linear's scale.
        std: the standard deviation of W under init normal; null: 1, the notebook's
            torch.randn. Only with init normal.
    """

    torch_counterpart: ClassVar = TorchCounterpart(
        nn.Linear,
        lambda layer: {
            "in_features": layer.in_features,
            "out_features": layer.out_features,
            "bias": "b" in layer.params,
        },
        lambda m: Linear(
            m.in_features,
            m.out_features,
            bias=m.bias is not None,
            init="zeros",
            dtype=m.weight.dtype,
            device=m.weight.device,
        ),
        {"W": ("weight", transpose), "b": ("bias", same)},
    )

    check_args: ClassVar = [{}, {"bias": False, "init": "normal", "std": 0.5}]
    feedback_param: ClassVar = "W"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        init: Annotated[str, OneOf(INITIALISERS)] = "uniform",
        std: float | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"Linear: {name}={value!r} must be a positive integer.")
        if std is not None and init != "normal":
            raise ConfigError(
                f"Linear: std={std} only applies to init='normal' (got init={init!r}); "
                "drop std or use init='normal'."
            )
        self.in_features = in_features
        self.out_features = out_features
        kw: dict[str, Any] = {"dtype": dtype, "device": device, "generator": generator}
        if init == "normal":
            kw["std"] = 1.0 if std is None else std
        try:
            W = initialise(init, (in_features, out_features), **kw)
        except ConfigError as e:
            raise ConfigError(f"Linear: {e}") from None
        self.add_param("W", W)
        if bias:
            self.add_param("b", torch.zeros(out_features, dtype=dtype, device=device))
        self.init = init

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ShapeError(
                f"expected input of shape (batch, {self.in_features}) with {self.in_features} "
                f"features, got shape {tuple(x.shape)}"
                + (" (add a Flatten layer before it)" if x.dim() > 2 else "")
            )
        W = self.params["W"]
        b = self.params.get("b")
        if self._transposed(x):  # yᵀ = Wᵀ xᵀ (+ b): the same sums, in BLAS's fast orientation
            yt = W.t().mm(x.t()) if b is None else torch.addmm(b[:, None], W.t(), x.t())
            return yt.t().contiguous(), x
        y = x.mm(W) if b is None else torch.addmm(b, x, W)
        return y, x

    def acc_grad_parameters(self, x: Tensor, grad_output: Tensor) -> None:
        if self._transposed(x):  # dWᵀ = gᵀ x, as in _forward
            self.grads["W"].add_(grad_output.t().mm(x).t())
        else:
            self.grads["W"].addmm_(x.t(), grad_output)
        if "b" in self.grads:
            self.grads["b"].add_(grad_output.sum(0))

    def update_grad_input(
        self, x: Tensor, grad_output: Tensor, params: dict[str, Tensor]
    ) -> Tensor:
        return grad_output.mm(params["W"].t())

    def _transposed(self, x: Tensor) -> bool:
        """Whether to run the products transposed: a narrow output and a large batch.

        With fewer than 16 output columns (a 10-class output layer) and 64 or more rows, the
        CPU BLAS computes x @ W and xᵀ @ g 1.5–5× slower than the same sums as Wᵀ @ xᵀ and
        gᵀ @ x (measured in docs/performance.md). Smaller batches keep the plain products,
        so their results stay bit-identical to `reference`, which the torch twin runs.
        """
        return self.out_features < 16 and x.shape[0] >= 64 and x.device.type == "cpu"

    @classmethod
    def example(
        cls, batch: int = 4, features: int = 5, **overrides: Any
    ) -> tuple[Linear, tuple[int, int]]:
        kw = {"in_features": features, "out_features": 3, **overrides}
        return cls(**kw), (batch, kw["in_features"])

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        y = x @ params["W"]
        return y + params["b"] if "b" in params else y

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}, bias={'b' in self.params}"
