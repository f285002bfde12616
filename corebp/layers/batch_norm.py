"""BatchNorm1d and BatchNorm2d: per-channel normalisation with running statistics.

The two differ only in the input shapes they accept, so they share this file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from corebp.contracts.counterpart import TorchCounterpart, same
from corebp.contracts.layer import Layer
from corebp.errors import ConfigError, ShapeError
from corebp.layers.pairs import positive


class BatchNorm(Layer):
    """y = γ ⊙ x̂ + β, x̂ = (x − μ) / √(σ² + ε), per channel c (dim 1), over the M = N·(spatial)
    values of that channel.

    Training: μ, σ² are the batch's mean and biased variance; the buffers move towards them,
    running_mean ← (1 − m)·running_mean + m·μ, running_var ← (1 − m)·running_var +
    m·σ²·M/(M − 1) (m = momentum; momentum None: m = 1/num_batches_tracked, a cumulative
    mean). Eval: μ, σ² are running_mean, running_var. γ (W), β (b): (C,) when affine.
    Backward, with g = dL/dy: dγ += Σ g ⊙ x̂, dβ += Σ g (sums over all but dim 1), and
    dx = γ/√(σ² + ε) ⊙ (g − Σg/M − x̂ ⊙ Σ(g ⊙ x̂)/M) in training, γ/√(σ² + ε) ⊙ g in eval.

    Args:
        num_features: C, the input's channels (dim 1), ≥ 1.
        eps: ε > 0, added to σ² before the square root.
        momentum: m in [0, 1], how far the running statistics move towards each training
            batch's; null: m = 1/num_batches_tracked, the cumulative mean of all batches.
        affine: whether to learn γ (W, initialised to ones) and β (b, zeros); false: y = x̂.
    """

    check_args: ClassVar = [{}, {"eps": 1e-3, "momentum": 0.3, "affine": False}, {"momentum": None}]

    #: Accepted input ranks, for the error message and the check.
    ranks: ClassVar[tuple[int, ...]] = ()
    shapes: ClassVar[str] = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = positive(name, "num_features", num_features)
        if not isinstance(eps, (int, float)) or isinstance(eps, bool) or eps <= 0:
            raise ConfigError(f"{name}: eps={eps!r} must be a positive number such as 1e-5.")
        if momentum is not None and (
            not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1
        ):
            raise ConfigError(
                f"{name}: momentum={momentum!r} must be a number in [0, 1], or null for a "
                "cumulative mean."
            )
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        kw: dict[str, Any] = {"dtype": dtype, "device": device}
        if affine:
            self.add_param("W", torch.ones(num_features, **kw))
            self.add_param("b", torch.zeros(num_features, **kw))
        self.add_buffer("running_mean", torch.zeros(num_features, **kw))
        self.add_buffer("running_var", torch.ones(num_features, **kw))
        self.add_buffer("num_batches_tracked", torch.zeros((), dtype=torch.long, device=device))

    def _view(self, x: Tensor) -> tuple[int, ...]:
        """The shape (1, C, 1, ...) that broadcasts a per-channel vector against x."""
        return (1, -1) + (1,) * (x.dim() - 2)

    def _forward(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        if x.dim() not in self.ranks or x.shape[1] != self.num_features:
            raise ShapeError(
                f"expected input of shape {self.shapes.format(C=self.num_features)}, got shape "
                f"{tuple(x.shape)}"
            )
        dims = [d for d in range(x.dim()) if d != 1]
        view = self._view(x)
        if self.training:
            count = x.numel() // x.shape[1]
            if count < 2:
                raise ShapeError(
                    f"expected more than 1 value per channel when training, got input shape "
                    f"{tuple(x.shape)}; use a batch of 2 or more, or eval() mode."
                )
            var, mean = torch.var_mean(x, dims, correction=0)
            self._track(mean, var, count)
        else:
            mean, var = self.buffers["running_mean"], self.buffers["running_var"]
        invstd = (var + self.eps).rsqrt_()
        xhat = (x - mean.view(view)).mul_(invstd.view(view))
        if not self.affine:
            return xhat, (xhat, invstd)
        y = torch.addcmul(self.params["b"].view(view), xhat, self.params["W"].view(view))
        return y, (xhat, invstd)

    def _track(self, mean: Tensor, var: Tensor, count: int) -> None:
        """Move the running statistics towards the batch's (in place, as torch does)."""
        self.buffers["num_batches_tracked"].add_(1)
        m = self.momentum
        if m is None:
            m = 1.0 / float(self.buffers["num_batches_tracked"])
        self.buffers["running_mean"].mul_(1 - m).add_(mean, alpha=m)
        self.buffers["running_var"].mul_(1 - m).add_(var, alpha=m * count / (count - 1))

    def _backward(
        self, ctx: tuple[Tensor, Tensor], grad_output: Tensor, input_grad: bool
    ) -> Tensor | None:
        # Both halves from one pass over the sums they share.
        need = self.affine or (input_grad and self.training)
        sums = self._sums(ctx, grad_output) if need else None
        if self.affine:
            self._accumulate(sums)
        return self._input_grad(ctx, grad_output, self.params, sums) if input_grad else None

    def acc_grad_parameters(self, ctx: tuple[Tensor, Tensor], grad_output: Tensor) -> None:
        if self.affine:
            self._accumulate(self._sums(ctx, grad_output))

    def update_grad_input(
        self, ctx: tuple[Tensor, Tensor], grad_output: Tensor, params: dict[str, Tensor]
    ) -> Tensor:
        sums = self._sums(ctx, grad_output) if self.training else None
        return self._input_grad(ctx, grad_output, params, sums)

    def _sums(self, ctx: tuple[Tensor, Tensor], grad_output: Tensor) -> tuple[Tensor, Tensor]:
        """(Σ g, Σ g·x̂) per channel: what both halves read."""
        xhat = ctx[0]
        dims = [d for d in range(xhat.dim()) if d != 1]
        return grad_output.sum(dims), (grad_output * xhat).sum(dims)

    def _accumulate(self, sums: Any) -> None:
        sum_g, sum_gx = sums
        self.grads["W"].add_(sum_gx)
        self.grads["b"].add_(sum_g)

    def _input_grad(
        self,
        ctx: tuple[Tensor, Tensor],
        grad_output: Tensor,
        params: dict[str, Tensor],
        sums: Any,
    ) -> Tensor:
        xhat, invstd = ctx
        view = self._view(xhat)
        scale = invstd if not self.affine else invstd * params["W"]
        if not self.training:
            return grad_output * scale.view(view)
        sum_g, sum_gx = sums
        count = xhat.numel() // xhat.shape[1]
        dx = xhat * (sum_gx / count).view(view)
        dx = (grad_output - (sum_g / count).view(view)).sub_(dx)
        return dx.mul_(scale.view(view))

    def reference(self, x: Tensor, params: dict[str, Tensor]) -> Tensor:
        """torch's functional batch norm (batch statistics in training, no buffer update)."""
        train = self.training
        return torch.nn.functional.batch_norm(
            x,
            None if train else self.buffers["running_mean"],
            None if train else self.buffers["running_var"],
            params.get("W"),
            params.get("b"),
            train,
            0.0,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps:g}, momentum={self.momentum}, affine={self.affine}"
        )


def _from_torch(cls: type[BatchNorm], m: nn.BatchNorm1d | nn.BatchNorm2d) -> BatchNorm:
    if not m.track_running_stats:
        raise ConfigError(
            f"torch.nn.{type(m).__name__}(track_running_stats=False): corebp's {cls.__name__} "
            "keeps running statistics for eval mode; expected track_running_stats=True."
        )
    mean = m.running_mean
    assert mean is not None  # tracked statistics exist
    return cls(m.num_features, m.eps, m.momentum, m.affine, dtype=mean.dtype, device=mean.device)


def _args(layer: BatchNorm) -> dict[str, Any]:
    return {
        "num_features": layer.num_features,
        "eps": layer.eps,
        "momentum": layer.momentum,
        "affine": layer.affine,
    }


_PARAMS: dict[str, tuple[str, Callable[[Tensor], Tensor]]] = {
    "W": ("weight", same),
    "b": ("bias", same),
}
_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


class BatchNorm1d(BatchNorm):
    """Batch normalisation of (N, C) features or (N, C, L) sequences; see `BatchNorm`."""

    ranks = (2, 3)
    shapes = "(batch, {C}) or (batch, {C}, length)"
    torch_counterpart: ClassVar = TorchCounterpart(
        nn.BatchNorm1d, _args, lambda m: _from_torch(BatchNorm1d, m), _PARAMS, _BUFFERS
    )

    @classmethod
    def example(
        cls, batch: int = 4, features: int = 5, **overrides: Any
    ) -> tuple[BatchNorm1d, tuple[int, ...]]:
        return cls(**{"num_features": features, **overrides}), (batch + 1, features)


class BatchNorm2d(BatchNorm):
    """Batch normalisation of (N, C, H, W) images, per channel; see `BatchNorm`."""

    ranks = (4,)
    shapes = "(batch, {C}, height, width)"
    torch_counterpart: ClassVar = TorchCounterpart(
        nn.BatchNorm2d, _args, lambda m: _from_torch(BatchNorm2d, m), _PARAMS, _BUFFERS
    )

    @classmethod
    def example(
        cls, batch: int = 4, features: int = 5, **overrides: Any
    ) -> tuple[BatchNorm2d, tuple[int, ...]]:
        return cls(**{"num_features": 3, **overrides}), (batch, 3, features, 2)
