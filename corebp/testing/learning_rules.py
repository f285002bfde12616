"""The conformance suite of learning rules.

Each argument set builds the rule with its own seeded `generator` and attaches it to a small
float64 stack of Linear and Tanh layers. Checked: `attach` keeps every parameter (the same
tensors, under the same names) and the forward; a rule declaring `exact_gradient = True`
gives backprop's gradients; a fresh rule (another seed) loaded with `state_dict()` after some
steps gives the same gradients and state from there on (the checkpoint restores it exactly);
`feedback_weights()` after a backward names layers that have a W, each with a tensor of W's
shape; the tensors the rule owns (`params`) each have a gradient of their shape and are in
`state_dict()`; `repr` names the class. Each step calls the rule's `before_backward(x, y)`
(y: a float target of the output's shape) and `after_update()` as the training loop does.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import torch

from corebp.contracts.learning_rule import LearningRule
from corebp.layers import Linear, Tanh
from corebp.layers.sequential import Sequential
from corebp.testing.core import Check, coverage_check, expect

WIDTHS = (6, 5, 4, 3)
BATCH = 7


def learning_rule_checks(cls: type[LearningRule], sets: list[dict[str, Any]]) -> list[Check]:
    """Every check of a learning-rule class, for each argument set."""
    checks = [coverage_check("learning_rules", "learning rule", cls, sets)]
    properties: list[tuple[str, Callable[[type[LearningRule], dict[str, Any]], None]]] = [
        ("attach keeps the parameters, their names and the forward", _attach_keeps_params),
        ("exact_gradient=True gives backprop's gradients", _exact_gradient),
        ("a rule loaded with state_dict continues the same", _state_round_trip),
        ("feedback_weights are in W's shape", _feedback_weights),
        ("the rule's own tensors have gradients and are checkpointed", _own_tensors),
        ("repr names the class", _repr),
    ]
    for args in sets:
        for prop, fn in properties:
            checks.append(Check("learning rule", cls, prop, _bound(fn, cls, args), args))
    return checks


def _bound(fn: Callable[[type[LearningRule], dict[str, Any]], None], cls: Any, args: Any):
    return lambda: fn(cls, args)


def _rule(cls: type[LearningRule], args: dict[str, Any], seed: int) -> LearningRule:
    return cls(generator=torch.Generator().manual_seed(seed), **args)


def _model() -> Sequential:
    """Linear/Tanh layers with weights from a local generator (torch's global one untouched)."""
    layers: list[Any] = []
    for n_in, n_out in pairwise(WIDTHS):
        layers += [Linear(n_in, n_out), Tanh()]
    model = Sequential(*layers[:-1]).to(dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.params.values():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def _batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(100 + step)
    x = torch.randn(BATCH, WIDTHS[0], generator=g, dtype=torch.float64)
    return x, torch.randn(BATCH, WIDTHS[-1], generator=g, dtype=torch.float64)


def _grads(
    model: Sequential, step: int, rule: LearningRule | None = None
) -> dict[str, torch.Tensor]:
    """One step's gradients (dL/dy: the batch's random g, which is also its target), with
    the rule's calls around the backward as in the training loop."""
    x, g = _batch(step)
    model.zero_grad()
    model.forward(x)
    if rule is not None:
        rule.before_backward(x, g)
    model.backward(g)
    grads = {k: t.clone() for k, t in model.grads.items()}
    if rule is not None:
        model.zero_grad()
        rule.after_update()
    return grads


def _attach_keeps_params(cls: type[LearningRule], args: dict[str, Any]) -> None:
    model, plain = _model(), _model()
    before = dict(model.params)
    _rule(cls, args, 0).attach(model)
    expect(
        model.params.keys() == before.keys()
        and all(model.params[k] is p for k, p in before.items()),
        f"after attach the parameters are {sorted(model.params)}, not the same tensors as "
        f"{sorted(before)}; a stand-in must share the layer's params dict",
    )
    x, _ = _batch(0)
    expect(
        torch.equal(model.forward(x), plain.forward(x)),
        "after attach the model's forward differs from the layers' own",
    )


def _exact_gradient(cls: type[LearningRule], args: dict[str, Any]) -> None:
    if not cls.exact_gradient:
        return
    model, plain = _model(), _model()
    rule = _rule(cls, args, 0)
    rule.attach(model)
    got, want = _grads(model, 0, rule), _grads(plain, 0)
    for k, t in want.items():
        expect(
            torch.allclose(got[k], t, rtol=1e-10, atol=1e-12),
            f"exact_gradient is True but the gradient of {k} differs from backprop's by "
            f"{(got[k] - t).abs().max().item():.3g}; set exact_gradient = False",
        )


def _state_round_trip(cls: type[LearningRule], args: dict[str, Any]) -> None:
    model, rule = _model(), _rule(cls, args, 0)
    rule.attach(model)
    for step in range(2):
        _grads(model, step, rule)
    state = {k: t.clone() for k, t in rule.state_dict().items()}
    again_model, again = _model(), _rule(cls, args, 1)
    again.attach(again_model)
    with torch.no_grad():
        for k, p in again_model.params.items():
            p.copy_(model.params[k])
    again.load_state_dict(state)
    for step in range(2, 4):
        got, want = _grads(again_model, step, again), _grads(model, step, rule)
        for k, t in want.items():
            expect(
                torch.equal(got[k], t),
                f"step {step}: the gradient of {k} differs from the original rule's after "
                "load_state_dict(state_dict()); put everything the rule draws or keeps (and "
                "its generator's state) in state_dict",
            )
    a, b = again.state_dict(), rule.state_dict()
    expect(
        a.keys() == b.keys() and all(torch.equal(a[k], t) for k, t in b.items()),
        f"after the same steps the loaded rule's state_dict keys {sorted(a)} or values differ "
        f"from the original's {sorted(b)}",
    )


def _feedback_weights(cls: type[LearningRule], args: dict[str, Any]) -> None:
    model, rule = _model(), _rule(cls, args, 0)
    rule.attach(model)
    _grads(model, 0, rule)
    for i, B in rule.feedback_weights().items():
        W = model.params.get(f"{i}.W")
        expect(
            W is not None and B.shape == W.shape,
            f"feedback_weights()[{i}] has shape {tuple(B.shape)} but layer {i} has "
            + ("no W" if W is None else f"W of shape {tuple(W.shape)}")
            + "; return only tensors in W's layout, keyed by the layer's position",
        )


def _own_tensors(cls: type[LearningRule], args: dict[str, Any]) -> None:
    model, rule = _model(), _rule(cls, args, 0)
    rule.attach(model)
    _grads(model, 0, rule)
    state = rule.state_dict()
    expect(
        rule.params.keys() == rule.grads.keys(),
        f"the rule's params {sorted(rule.params)} and grads {sorted(rule.grads)} differ in keys",
    )
    for k, p in rule.params.items():
        expect(
            rule.grads[k].shape == p.shape,
            f"the gradient of the rule's {k} has shape {tuple(rule.grads[k].shape)}, the "
            f"tensor {tuple(p.shape)}",
        )
        expect(
            k not in model.params and k in state and torch.equal(state[k], p),
            f"the rule's own tensor {k} is "
            + ("a model parameter's name" if k in model.params else "not in state_dict()")
            + "; name it apart from the model's and return it from state_dict",
        )


def _repr(cls: type[LearningRule], args: dict[str, Any]) -> None:
    text = repr(_rule(cls, args, 0))
    expect(cls.__name__ in text, f"repr is {text!r}; expected it to name {cls.__name__}")
