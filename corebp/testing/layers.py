"""The conformance suites of layers and losses.

Each argument set builds an instance through the class's `example(**args)` (so a layer
with required arguments supplies them there) and is checked for: the gradient checker
(float64 finite differences and autograd), backward before forward, an input left
unchanged, `repr`, `deepcopy`; layers also for `input_grad=False`, `backward` equal to its
two halves (`acc_grad_parameters`, `update_grad_input`), a `feedback_param` that the input
half reads from the `params` it is given, gradients that
accumulate until `zero_grad`, `.to(dtype)` moving every parameter, gradient and buffer, and
buffers: every tensor the layer keeps is a registered parameter, gradient or buffer, and
buffers change only in a training-mode forward (not in eval mode, backward or `zero_grad`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from corebp.checks.gradcheck import check_layer, check_loss
from corebp.contracts.layer import Layer
from corebp.contracts.loss import Loss
from corebp.errors import StateError
from corebp.testing.core import Check, coverage_check, expect


def layer_checks(cls: type[Layer], sets: list[dict[str, Any]]) -> list[Check]:
    """Every check of a layer class, for each argument set."""
    checks = [coverage_check("layers", "layer", cls, sets)]
    properties: list[tuple[str, Callable[[Layer, tuple[int, ...]], None]]] = [
        ("backward matches finite differences and autograd", _layer_gradcheck),
        ("backward before forward raises StateError", _layer_backward_first),
        ("forward leaves its input unchanged", _layer_input_unchanged),
        ("input_grad=False gives the same parameter gradients", _layer_input_grad_false),
        ("backward is its two halves, bit for bit", _layer_two_halves),
        ("the input half reads the feedback parameter from params", _layer_feedback_param),
        ("gradients accumulate until zero_grad", _layer_accumulates),
        (".to(dtype) moves every parameter, gradient and buffer", _layer_to),
        ("buffers are registered and change only in a training forward", _layer_buffers),
        ("repr names the class", _repr),
        ("a deepcopy computes the same and is independent", _layer_deepcopy),
    ]
    for args in sets:
        for prop, fn in properties:
            checks.append(Check("layer", cls, prop, _built(cls, args, fn), args))
    return checks


def loss_checks(cls: type[Loss], sets: list[dict[str, Any]]) -> list[Check]:
    """Every check of a loss class, for each argument set."""
    checks = [coverage_check("losses", "loss", cls, sets)]
    properties: list[tuple[str, Callable[[Loss, tuple[int, ...]], None]]] = [
        ("backward matches finite differences and autograd", _loss_gradcheck),
        ("backward before forward raises StateError", _loss_backward_first),
        ("forward returns a 0-dim loss and leaves its inputs unchanged", _loss_forward),
        ("repr names the class", _repr),
        ("a deepcopy computes the same loss", _loss_deepcopy),
    ]
    for args in sets:
        for prop, fn in properties:
            checks.append(Check("loss", cls, prop, _built(cls, args, fn), args))
    return checks


def _built(cls: Any, args: dict[str, Any], fn: Callable[[Any, tuple[int, ...]], None]):
    def run() -> None:
        instance, shape = cls.example(**args)
        fn(instance, tuple(shape))

    return run


def _input(shape: tuple[int, ...], seed: int = 0) -> Tensor:
    return torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def _float64(layer: Layer) -> Layer:
    """A float64 copy in eval mode: deterministic, for the exact comparisons below."""
    return copy.deepcopy(layer).to(dtype=torch.float64).eval()


def _pass(layer: Layer, x: Tensor, seed: int = 1, input_grad: bool = True) -> Tensor | None:
    """One forward and a backward of a fixed random dL/dy."""
    y = layer.forward(x)
    g = torch.randn(y.shape, dtype=y.dtype, generator=torch.Generator().manual_seed(seed))
    return layer.backward(g, input_grad=input_grad)


def _grads(layer: Layer) -> dict[str, Tensor]:
    return {name: g.clone() for name, _, g in layer.named_params()}


def _layer_gradcheck(layer: Layer, shape: tuple[int, ...]) -> None:
    report = check_layer(layer, shape)
    expect(report.passed, str(report))


def _layer_backward_first(layer: Layer, shape: tuple[int, ...]) -> None:
    y = _float64(layer).forward(_input(shape))
    fresh = _float64(layer)
    try:
        fresh.backward(torch.ones_like(y))
    except StateError:
        return
    raise AssertionError("backward() without a forward() returned instead of raising StateError")


def _layer_input_unchanged(layer: Layer, shape: tuple[int, ...]) -> None:
    x = _input(shape)
    kept = x.clone()
    _float64(layer).forward(x)
    expect(torch.equal(x, kept), "forward(x) wrote into x; compute out of place")


def _layer_input_grad_false(layer: Layer, shape: tuple[int, ...]) -> None:
    with_dx, without = _float64(layer), _float64(layer)
    x = _input(shape)
    _pass(with_dx, x)
    dx = _pass(without, x, input_grad=False)
    if dx is not None:
        expect(
            dx.shape == x.shape,
            f"returned dL/dx of shape {tuple(dx.shape)}; expected None or {tuple(x.shape)}",
        )
    for name, g in _grads(with_dx).items():
        expect(
            torch.equal(without.grads[name], g),
            f"grads[{name!r}] differ between input_grad=True and input_grad=False",
        )


def _layer_two_halves(layer: Layer, shape: tuple[int, ...]) -> None:
    for mode in (False, True):
        whole, halves = _float64(layer).train(mode), _float64(layer).train(mode)
        x = _input(shape)
        state = torch.random.get_rng_state()  # a random forward (Dropout) draws the same twice
        y = whole.forward(x)
        g = torch.randn(y.shape, dtype=y.dtype, generator=torch.Generator().manual_seed(1))
        dx = whole.backward(g.clone())
        torch.random.set_rng_state(state)
        _, ctx = halves._forward(x)
        halves.acc_grad_parameters(ctx, g.clone())
        dx_halves = halves.update_grad_input(ctx, g.clone(), halves.params)
        where = "training" if mode else "eval"
        expect(
            dx is not None and torch.equal(dx, dx_halves),
            f"in {where} mode backward's dL/dx differs from update_grad_input's; backward must "
            "be acc_grad_parameters then update_grad_input",
        )
        for name, grad in _grads(whole).items():
            expect(
                torch.equal(halves.grads[name], grad),
                f"in {where} mode grads[{name!r}] from backward differ from "
                "acc_grad_parameters'; backward must be its two halves",
            )


def _layer_feedback_param(layer: Layer, shape: tuple[int, ...]) -> None:
    name = layer.feedback_param
    if name is None:
        return
    layer = _float64(layer)
    x = _input(shape)
    y, ctx = layer._forward(x)
    g = torch.randn(y.shape, dtype=y.dtype, generator=torch.Generator().manual_seed(1))
    B = torch.randn(
        layer.params[name].shape, dtype=y.dtype, generator=torch.Generator().manual_seed(2)
    )
    dx = layer.update_grad_input(ctx, g, layer.params | {name: B})
    xr = x.clone().requires_grad_(True)
    with torch.enable_grad():
        (layer.reference(xr, layer.params | {name: B}) * g).sum().backward()
    assert xr.grad is not None
    expect(
        torch.allclose(dx, xr.grad, rtol=1e-10, atol=1e-12),
        f"update_grad_input with params[{name!r}] := B is not dL/dx with B in {name}'s place "
        f"(max difference {float((dx - xr.grad).abs().max()):.3g}); read {name} from the params "
        "argument, not self.params",
    )


def _layer_accumulates(layer: Layer, shape: tuple[int, ...]) -> None:
    layer = _float64(layer)
    layer.zero_grad()
    x = _input(shape)
    _pass(layer, x)
    once = _grads(layer)
    _pass(layer, x)
    for name, g in once.items():
        error = float((layer.grads[name] - 2 * g).abs().max())
        expect(
            error <= 1e-12 * float(g.abs().max()),
            f"grads[{name!r}] after two backward passes differ from twice one pass by "
            f"{error:.3g}; add to grads (+=), do not overwrite them",
        )
    layer.zero_grad()
    for name, _, g in layer.named_params():
        expect(bool((g == 0).all()), f"grads[{name!r}] is not 0 after zero_grad()")


def _floating_tensors(layer: Layer) -> dict[str, Tensor]:
    """Every floating tensor the layer registers: params, grads and buffers."""
    found = {f"params[{n!r}]": p for n, p, _ in layer.named_params()}
    found |= {f"grads[{n!r}]": g for n, _, g in layer.named_params()}
    found |= {f"buffers[{n!r}]": b for n, b in layer.named_buffers() if b.is_floating_point()}
    return found


def _layer_to(layer: Layer, shape: tuple[int, ...]) -> None:
    layer = _float64(layer)
    _pass(layer, _input(shape))  # buffers made by a forward move too
    for target in (torch.float32, torch.float64):
        moved = layer.to(dtype=target)
        expect(moved is layer, ".to() returned another object; return self")
        for where, t in _floating_tensors(layer).items():
            expect(t.dtype == target, f"{where} is {t.dtype} after .to(dtype={target})")
        y = layer.forward(_input(shape).to(target))
        expect(y.dtype == target, f"forward returned {y.dtype} after .to(dtype={target})")
        layer.backward(torch.ones_like(y))


def _buffers(layer: Layer) -> dict[str, Tensor]:
    return {name: b.clone() for name, b in layer.named_buffers()}


def _expect_buffers_unchanged(layer: Layer, before: dict[str, Tensor], during: str) -> None:
    for name, b in layer.named_buffers():
        expect(
            name in before and torch.equal(b, before[name]),
            f"buffers[{name!r}] changed during {during}; only a training-mode forward updates "
            "buffers",
        )


def _layer_buffers(layer: Layer, shape: tuple[int, ...]) -> None:
    layer = _float64(layer).train()
    y = layer.forward(_input(shape))
    kept = {id(t) for t in (*layer.params.values(), *layer.grads.values())}
    kept |= {id(b) for _, b in layer.named_buffers()}
    ctx = layer._ctx if isinstance(layer._ctx, (tuple, list)) else (layer._ctx,)
    kept |= {id(t) for t in ctx}  # what forward cached for backward, such as Dropout's mask
    for attr, value in vars(layer).items():
        expect(
            attr == "_ctx" or not isinstance(value, Tensor) or id(value) in kept,
            f"keeps the tensor attribute {attr!r} outside params and buffers, so .to(), "
            f"checkpoints and repr miss it; register it with self.add_buffer({attr!r}, tensor)",
        )
    before = _buffers(layer)
    layer.backward(torch.ones_like(y))
    _expect_buffers_unchanged(layer, before, "backward")
    layer.zero_grad()
    _expect_buffers_unchanged(layer, before, "zero_grad()")
    layer.eval()
    y = layer.forward(_input(shape, seed=2))
    _expect_buffers_unchanged(layer, before, "an eval-mode forward")
    layer.backward(torch.ones_like(y))
    _expect_buffers_unchanged(layer, before, "an eval-mode backward")


def _repr(obj: Layer | Loss, shape: tuple[int, ...]) -> None:
    text = repr(obj)
    name = type(obj).__name__
    expect(
        text.startswith(f"{name}(") and text.endswith(")") and "\n" not in text,
        f"repr is {text!r}; expected one line {name}(...) showing its arguments",
    )


def _layer_deepcopy(layer: Layer, shape: tuple[int, ...]) -> None:
    layer = _float64(layer)
    twin = copy.deepcopy(layer)
    x = _input(shape)
    expect(torch.equal(layer.forward(x), twin.forward(x)), "a deepcopy's forward differs")
    for name, p, _ in twin.named_params():
        p.add_(1.0)
        expect(not torch.equal(p, layer.params[name]), f"a deepcopy shares params[{name!r}]")
    buffers = dict(layer.named_buffers())
    for name, b in twin.named_buffers():
        expect(
            name in buffers and torch.equal(b, buffers[name]),
            f"a deepcopy's buffers[{name!r}] differ from the original's",
        )
        b.add_(1)
        expect(not torch.equal(b, buffers[name]), f"a deepcopy shares buffers[{name!r}]")


def _loss_inputs(loss: Loss, shape: tuple[int, ...]) -> tuple[Tensor, Tensor]:
    return loss.example_inputs(shape, generator=torch.Generator().manual_seed(0))


def _loss_gradcheck(loss: Loss, shape: tuple[int, ...]) -> None:
    report = check_loss(loss, shape)
    expect(report.passed, str(report))


def _loss_backward_first(loss: Loss, shape: tuple[int, ...]) -> None:
    try:
        copy.deepcopy(loss).backward()
    except StateError:
        return
    raise AssertionError("backward() without a forward() returned instead of raising StateError")


def _loss_forward(loss: Loss, shape: tuple[int, ...]) -> None:
    prediction, target = _loss_inputs(loss, shape)
    kept = prediction.clone(), target.clone()
    value = loss.forward(prediction, target)
    expect(value.dim() == 0, f"forward returned shape {tuple(value.shape)}; expected a 0-dim loss")
    expect(
        torch.equal(prediction, kept[0]) and torch.equal(target, kept[1]),
        "forward wrote into the prediction or the target; compute out of place",
    )
    grad = loss.backward()
    expect(
        grad.shape == prediction.shape,
        f"backward returned shape {tuple(grad.shape)}; expected the prediction's "
        f"{tuple(prediction.shape)}",
    )


def _loss_deepcopy(loss: Loss, shape: tuple[int, ...]) -> None:
    prediction, target = _loss_inputs(loss, shape)
    twin = copy.deepcopy(loss)
    expect(
        torch.equal(loss.forward(prediction, target), twin.forward(prediction, target)),
        "a deepcopy computes another loss",
    )
