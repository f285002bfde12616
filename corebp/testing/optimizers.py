"""The conformance suite of optimizers.

On each argument set, over a fixed float64 gradient sequence (entries from 1e-2 to 1e2):
the update matches the declared `torch_counterpart` (when there is one; arguments translated
by `torch_arguments`) to 1e-12; a `state_dict` saved mid-run, passed through
`torch.save`/`torch.load(weights_only=True)` and loaded into a fresh optimizer continues bit
for bit; a zero gradient (with any
`weight_decay` set to 0) leaves the parameters unchanged; `step()` updates the caller's
parameter tensors in place and counts `steps`.
"""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from corebp.contracts.optimizer import Optimizer
from corebp.testing.core import Check, coverage_check, expect

SHAPES = {"W": (7, 5), "b": (5,)}
STEPS = 100
#: Where the state_dict round trip saves and resumes.
RESUME_AT = 40
TORCH_RTOL = 1e-12


def optimizer_checks(cls: type[Optimizer], sets: list[dict[str, Any]]) -> list[Check]:
    """Every check of an optimizer class, for each argument set."""
    checks = [coverage_check("optimizers", "optimizer", cls, sets)]
    properties: list[tuple[str, Callable[[type[Optimizer], dict[str, Any]], None]]] = []
    if cls.torch_counterpart is not None:
        name = f"{cls.torch_counterpart.__module__}.{cls.torch_counterpart.__name__}"
        properties.append((f"matches its torch counterpart {name}", _matches_torch))
    properties += [
        ("state_dict round trip resumes identically", _round_trip),
        ("a zero gradient without weight decay leaves parameters unchanged", _zero_gradient),
        ("step() updates the parameters in place and counts steps", _in_place),
    ]
    for args in sets:
        for prop, fn in properties:
            checks.append(Check("optimizer", cls, prop, _bound(fn, cls, args), args))
    return checks


def _bound(fn: Callable[[type[Optimizer], dict[str, Any]], None], cls: Any, args: Any):
    return lambda: fn(cls, args)


def _start() -> dict[str, Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {n: torch.randn(s, dtype=torch.float64, generator=gen) for n, s in SHAPES.items()}


def _gradients() -> list[dict[str, Tensor]]:
    gen = torch.Generator().manual_seed(1)
    return [
        {
            n: torch.randn(s, dtype=torch.float64, generator=gen) * 10.0 ** (i % 5 - 2)
            for n, s in SHAPES.items()
        }
        for i in range(STEPS)
    ]


def _build(cls: type[Optimizer], args: dict[str, Any], params: dict[str, Tensor]) -> Optimizer:
    return cls(params, {n: torch.zeros_like(p) for n, p in params.items()}, **args)


def _run(opt: Optimizer, grads: list[dict[str, Tensor]]) -> None:
    for step in grads:
        for n, g in step.items():
            opt.grads[n].copy_(g)
        opt.step()


def _resolved(cls: type[Optimizer], args: dict[str, Any]) -> dict[str, Any]:
    """Every hyperparameter with its value: the constructor's defaults updated by `args`."""
    params = list(inspect.signature(cls).parameters.values())[2:]
    defaults = {p.name: p.default for p in params if p.default is not p.empty}
    return {**defaults, **args}


def _matches_torch(cls: type[Optimizer], args: dict[str, Any]) -> None:
    torch_cls = cls.torch_counterpart
    assert torch_cls is not None  # only checked when declared
    resolved = _resolved(cls, args)
    lr = resolved.pop("lr")
    # The same translation as the torch twin of `checks.autograd` uses.
    hyper = {"lr": lr, **cls.torch_arguments(resolved)}
    ours = _build(cls, args, _start())
    leaves = {n: torch.nn.Parameter(p) for n, p in _start().items()}
    if "foreach" in inspect.signature(torch_cls).parameters:
        hyper["foreach"] = False  # the plain per-parameter loop, as corebp's
    theirs = torch_cls(list(leaves.values()), **hyper)
    for step, grads in enumerate(_gradients(), start=1):
        _run(ours, [grads])
        for n, g in grads.items():
            leaves[n].grad = g.clone()
        theirs.step()
        for n, p in ours.params.items():
            expected = leaves[n].detach()
            scale = float(expected.abs().max())
            error = float((p - expected).abs().max())
            expect(
                error <= TORCH_RTOL * scale,
                f"params[{n!r}] after step {step} differ from {torch_cls.__name__}({hyper}) by "
                f"{error:.3g} (max|p| {scale:.3g}, allowed relative error {TORCH_RTOL:g})",
            )


def _round_trip(cls: type[Optimizer], args: dict[str, Any]) -> None:
    grads = _gradients()
    straight = _build(cls, args, _start())
    _run(straight, grads)

    first = _build(cls, args, _start())
    _run(first, grads[:RESUME_AT])
    buffer = io.BytesIO()
    torch.save({"params": first.params, "optimizer": first.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    resumed = _build(cls, args, saved["params"])
    resumed.load_state_dict(saved["optimizer"])
    _run(resumed, grads[RESUME_AT:])
    for n, p in straight.params.items():
        error = float((resumed.params[n] - p).abs().max())
        expect(
            error == 0,
            f"params[{n!r}] differ by {error:.3g} from an uninterrupted run after saving at step "
            f"{RESUME_AT} and resuming from state_dict(); keep every buffer in self.state (or "
            "save it in state_dict and restore it in load_state_dict)",
        )


def _zero_gradient(cls: type[Optimizer], args: dict[str, Any]) -> None:
    if "weight_decay" in _resolved(cls, args):
        args = {**args, "weight_decay": 0.0}
    opt = _build(cls, args, _start())
    zeros = [{n: torch.zeros(s, dtype=torch.float64) for n, s in SHAPES.items()}] * 3
    _run(opt, zeros)
    for n, p in _start().items():
        error = float((opt.params[n] - p).abs().max())
        expect(error == 0, f"params[{n!r}] moved by {error:.3g} in 3 steps of zero gradient")


def _in_place(cls: type[Optimizer], args: dict[str, Any]) -> None:
    params = _start()
    before = {n: p.clone() for n, p in params.items()}
    opt = _build(cls, args, params)
    _run(opt, _gradients()[:2])
    expect(opt.steps == 2, f"steps is {opt.steps} after 2 calls of step(); bump it once per step")
    for n, p in params.items():
        expect(opt.params[n] is p, f"params[{n!r}] was rebound; update the tensor in place")
        expect(
            not torch.equal(p, before[n]),
            f"the caller's tensor params[{n!r}] did not change in 2 steps",
        )
