"""The gradient checker: an explicit backward against finite differences and torch autograd.

    report = check_layer(Linear(5, 3), (4, 5))    # or check_loss(CrossEntropyLoss(), (4, 3))
    print(report)                                  # a table naming the worst element
    report.raise_if_failed()                       # AssertionError with that table

A layer is checked on a deep copy cast to `dtype`: with a fixed random R of the output's
shape, L = Σ(y ⊙ R), so the explicit `backward(R)` returns dL/dx and accumulates dL/dparam.
Each of these is compared against

* "finite_differences": central differences (L(v + ε) − L(v − ε)) / 2ε in float64, on up to
  `max_fd_elements` seeded sampled elements of each tensor;
* "autograd": torch autograd of `layer.reference(x, params)` in float64 (a row "no reference"
  when the layer has none). The row "output" compares the forward with the reference.

Errors are normwise: max_rel_error = max|explicit − reference| / max|reference| over the
compared elements, and a row passes when max_abs_error ≤ atol + rtol · max|reference|.
The float64 "truth" uses the same (rounded) values as the explicit copy, so for float32 the
rows measure float32 round-off. Randomness is replayed: before every forward torch's global
RNG is re-seeded and every `torch.Generator` attribute of the layer is reset, so a layer such
as Dropout draws the same mask each time. Layers with `exact_gradient = False` (or
containing such a layer) get "expected" instead of "FAIL" for gradient differences.
Losses are checked the same way on (prediction, target) from `loss.example_inputs`; their
backward is dL/dprediction.

This module is the only place in corebp that uses torch autograd.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor

from corebp.contracts.layer import Layer
from corebp.contracts.loss import Loss
from corebp.layers.sequential import Sequential

METHODS = ("finite_differences", "autograd")

#: (atol, rtol) per checked dtype and method; other dtypes use LOW_PRECISION.
TOLERANCES: dict[torch.dtype, dict[str, tuple[float, float]]] = {
    torch.float64: {"finite_differences": (1e-9, 1e-7), "autograd": (1e-13, 1e-10)},
    torch.float32: {"finite_differences": (1e-5, 1e-4), "autograd": (1e-5, 1e-4)},
}
LOW_PRECISION = {"finite_differences": (1e-2, 1e-2), "autograd": (1e-2, 1e-2)}
_TINY = torch.finfo(torch.float64).tiny


@dataclass(frozen=True)
class Row:
    """One compared tensor: the largest error of the explicit values against one method."""

    tensor: str
    method: str
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple[int, ...]
    explicit: float
    reference: float
    atol: float
    rtol: float
    #: "ok", "FAIL", "expected" (a difference where exact_gradient is False) or "skipped".
    status: str
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.status != "FAIL"

    @property
    def element(self) -> str:
        return f"{self.tensor}[{', '.join(map(str, self.worst_index))}]"


@dataclass
class GradcheckReport:
    """The rows of one check; `passed` is False when any row failed."""

    subject: str
    input_shape: tuple[int, ...]
    dtype: torch.dtype
    exact_gradient: bool
    rows: list[Row]

    @property
    def passed(self) -> bool:
        return all(row.passed for row in self.rows)

    def worst(self) -> Row | None:
        """The failing row with the largest relative error, else the largest compared error."""
        compared = [r for r in self.rows if r.status != "skipped"]
        failed = [r for r in compared if not r.passed]
        pool = failed or compared
        return max(pool, key=lambda r: _sort_key(r.max_rel_error), default=None)

    def raise_if_failed(self) -> None:
        if not self.passed:
            raise AssertionError(str(self))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "subject": self.subject,
            "input_shape": list(self.input_shape),
            "dtype": str(self.dtype).removeprefix("torch."),
            "exact_gradient": self.exact_gradient,
            "passed": self.passed,
            "rows": [asdict(r) for r in self.rows],
        }

    def __str__(self) -> str:
        dtype = str(self.dtype).removeprefix("torch.")
        verdict = "PASSED" if self.passed else "FAILED"
        lines = [f"gradcheck {self.subject} on {self.input_shape}, {dtype}: {verdict}"]
        header = ("tensor", "method", "max abs err", "max rel err", "worst", "status")
        table = [header] + [
            (
                r.tensor,
                r.method,
                f"{r.max_abs_error:.3g}",
                f"{r.max_rel_error:.3g}",
                ", ".join(map(str, r.worst_index)),
                r.status + (f" ({r.note})" if r.note else ""),
            )
            if r.status != "skipped"
            else (r.tensor, r.method, "-", "-", "-", f"skipped ({r.note})")
            for r in self.rows
        ]
        widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
        lines += ["  " + "  ".join([*map(str.ljust, row[:-1], widths), row[-1]]) for row in table]
        worst = self.worst()
        if worst is not None:
            lines.append(
                f"worst: {worst.element} by {worst.method}: explicit {worst.explicit:.10g} vs "
                f"reference {worst.reference:.10g} (abs error {worst.max_abs_error:.3g}, "
                f"rel error {worst.max_rel_error:.3g}; allowed {worst.atol:g} + "
                f"{worst.rtol:g}·max|reference|)"
            )
        return "\n".join(lines)


class GradDiff(NamedTuple):
    """The normwise error of one explicit gradient against autograd."""

    max_abs: float
    max_rel: float


# -- public checks ----------------------------------------------------------------------------
def check_layer(
    layer: Layer,
    input_shape: Sequence[int],
    *,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    atol: float | None = None,
    rtol: float | None = None,
    fd_eps: float = 1e-6,
    max_fd_elements: int = 64,
    methods: Sequence[str] = METHODS,
    device: torch.device | str | None = None,
) -> GradcheckReport:
    """Check `layer.backward` (dL/dx and every parameter gradient) on a random input.

    `layer` itself is left untouched (the check runs on copies); `device` defaults to the
    device of its first parameter, else the CPU. `atol`/`rtol` override TOLERANCES.
    """
    plan = _plan(layer, methods, seed, dtype, atol, rtol, fd_eps, max_fd_elements)
    shape = tuple(int(n) for n in input_shape)
    if device is None:
        device = next((p.device for _, p, _ in layer.named_params()), torch.device("cpu"))

    explicit = copy.deepcopy(layer).to(dtype=dtype)
    explicit.zero_grad()
    truth = copy.deepcopy(explicit).to(dtype=torch.float64)
    x = torch.randn(shape, dtype=torch.float64, generator=plan.gen).to(device=device, dtype=dtype)
    x64 = x.to(torch.float64)
    truth_params = {name: p for name, p, _ in truth.named_params()}

    with torch.random.fork_rng(devices=_cuda_devices(device)):
        replay_explicit, replay_truth = _replayer(explicit, seed), _replayer(truth, seed)
        replay_explicit()
        y = explicit.forward(x)
        R = torch.randn(y.shape, dtype=torch.float64, generator=plan.gen).to(device)
        grad_x = explicit.backward(R.to(y.dtype, copy=True), input_grad=True)
        found = {"input": grad_x, **{name: g for name, _, g in explicit.named_params()}}

        def objective() -> Tensor:
            replay_truth()
            return truth.forward(x64).clone()

        def reference(leaves: dict[str, Tensor]) -> Tensor:
            replay_truth()
            truth.forward(x64)  # leaves the forward's state (a Dropout mask) for `reference`
            params = {n: t for n, t in leaves.items() if n != "input"}
            return truth.reference(leaves["input"], params)

        wrt = {"input": x64, **truth_params}
        rows = _rows(plan, found, wrt, objective, reference, R, ("output", y))
    return GradcheckReport(repr(layer), shape, dtype, plan.exact, rows)


def check_loss(
    loss: Loss,
    prediction_shape: Sequence[int],
    target: Tensor | None = None,
    *,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    atol: float | None = None,
    rtol: float | None = None,
    fd_eps: float = 1e-6,
    max_fd_elements: int = 64,
    methods: Sequence[str] = METHODS,
    device: torch.device | str = "cpu",
) -> GradcheckReport:
    """Check `loss.backward()` (dL/dprediction) on a random prediction.

    Prediction and target come from `loss.example_inputs(shape, generator=...)`: standard
    normal float targets by default, class indices or probabilities where the loss says so.
    A given `target` replaces the generated one (a floating target is cast to `dtype`).
    """
    plan = _plan(loss, methods, seed, dtype, atol, rtol, fd_eps, max_fd_elements)
    shape = tuple(int(n) for n in prediction_shape)
    p, t = loss.example_inputs(shape, generator=plan.gen)
    t = t if target is None else target
    p = p.to(device=device, dtype=dtype)
    p64 = p.to(torch.float64)
    t = t.to(device=device, dtype=dtype) if t.dtype.is_floating_point else t.to(device)
    t64 = t.to(torch.float64) if t.dtype.is_floating_point else t

    explicit, truth = copy.deepcopy(loss), copy.deepcopy(loss)
    with torch.random.fork_rng(devices=_cuda_devices(device)):
        replay_explicit, replay_truth = _replayer(explicit, seed), _replayer(truth, seed)
        replay_explicit()
        value = explicit.forward(p, t)
        grad = explicit.backward()

        def objective() -> Tensor:
            replay_truth()
            return truth.forward(p64, t64)

        rows = _rows(
            plan,
            {"prediction": grad},
            {"prediction": p64},
            objective,
            lambda leaves: truth.reference(leaves["prediction"], t64),
            torch.ones((), dtype=torch.float64, device=device),
            ("loss", value),
        )
    return GradcheckReport(repr(loss), shape, dtype, plan.exact, rows)


def compare_with_autograd(
    model: Layer,
    loss: Loss,
    x: Tensor,
    target: Tensor,
    grads: Mapping[str, Tensor] | None = None,
) -> dict[str, GradDiff]:
    """Compare explicit parameter gradients with autograd on the same weights and batch.

    `grads` defaults to `model.grads`, so call it right after a forward/backward of (x, target)
    that followed `zero_grad()`, before the update. Autograd differentiates
    `loss.reference(model.reference(x, params), target)` at detached copies of the parameters,
    in their own dtype; x and target are not copied. Returns {name: (max_abs, max_rel)}, with
    max_rel = max|explicit − autograd| / max|autograd| (one host sync for all parameters).
    """
    explicit = dict(model.grads if grads is None else grads)
    auto = reference_gradients(model, loss, x, target)
    if not auto:
        return {}
    stats = torch.stack(
        [
            torch.stack([(explicit[n] - g).abs().max(), g.abs().max()]).to(torch.float64)
            for n, g in auto.items()
        ]
    ).tolist()
    return {
        name: GradDiff(err, err / max(scale, _TINY))
        for name, (err, scale) in zip(auto, stats, strict=True)
    }


def reference_gradients(
    model: Layer,
    loss: Loss,
    x: Tensor,
    target: Tensor,
    params: Mapping[str, Tensor] | None = None,
) -> dict[str, Tensor]:
    """dL/dparam by autograd of `loss.reference(model.reference(x, params), target)`.

    `params` defaults to detached copies of `model.params`; pass tensors that require grad
    (e.g. `torch.nn.Parameter`s of a torch twin) to differentiate at those instead.
    """
    params = _leaves(model) if params is None else params
    x = _graphable(x)
    with torch.enable_grad():
        value = loss.reference(model.reference(x, dict(params)), target)
    return _autograd(lambda: value, dict(params))


def reference_signals(
    model: Sequential, loss: Loss, x: Tensor, target: Tensor, layers: Sequence[int]
) -> tuple[dict[str, Tensor], dict[int, Tensor]]:
    """Backprop's signals by autograd on `reference_gradients`' terms: dL/dparam for every
    parameter, and dL/d(output of layer i) for each i in `layers` (layers that hold
    parameters, so that their output depends on them)."""
    params, x = _leaves(model), _graphable(x)
    with torch.enable_grad():
        outputs = model.reference_outputs(x, params)
        value = loss.reference(outputs[-1], target)
    picked = {i: outputs[i] for i in layers}
    grads = _autograd(lambda: value, {**params, **{str(i): h for i, h in picked.items()}})
    return {n: grads[n] for n in params}, {i: grads[str(i)] for i in picked}


# -- helpers ----------------------------------------------------------------------------------
def _leaves(model: Layer) -> dict[str, Tensor]:
    """Detached copies of the model's parameters, as autograd leaves."""
    return {n: p.detach().clone().requires_grad_(True) for n, p, _ in model.named_params()}


def _graphable(x: Tensor) -> Tensor:
    """`x`, cloned if it is an inference-mode tensor (those cannot enter an autograd graph)."""
    return x.clone() if x.is_inference() else x


def _check_methods(methods: Sequence[str]) -> None:
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown gradcheck method(s) {unknown}; expected some of {METHODS}.")


def _tolerances(
    dtype: torch.dtype, atol: float | None, rtol: float | None
) -> dict[str, tuple[float, float]]:
    base = TOLERANCES.get(dtype, LOW_PRECISION)
    return {
        m: (base[m][0] if atol is None else atol, base[m][1] if rtol is None else rtol)
        for m in METHODS
    }


def _cuda_devices(device: torch.device | str) -> list[int]:
    device = torch.device(device)
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def _reachable(obj: Any) -> list[Any]:
    """`obj` and everything reachable through layer/loss attributes and lists (sub-layers)."""
    found: list[Any] = []
    seen: set[int] = set()

    def visit(value: Any) -> None:
        if id(value) in seen:
            return
        seen.add(id(value))
        found.append(value)
        if isinstance(value, (Layer, Loss)):
            for attr in vars(value).values():
                visit(attr)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)

    visit(obj)
    return found


def is_exact(obj: Layer | Loss) -> bool:
    """Whether a layer (with every layer inside it) or a loss computes the true gradient.

    False if it, or any layer or loss reachable through its attributes and lists (a
    Sequential's `layers`, a container's own attributes), has `exact_gradient = False`.
    """
    parts = [v for v in _reachable(obj) if isinstance(v, (Layer, Loss))]
    return all(getattr(v, "exact_gradient", True) for v in parts)


def _replayer(obj: Any, seed: int) -> Callable[[], None]:
    """A function that resets the global RNG and `obj`'s generators to their current state."""
    saved = [(g, g.get_state()) for g in _reachable(obj) if isinstance(g, torch.Generator)]

    def replay() -> None:
        torch.manual_seed(seed)
        for g, state in saved:
            g.set_state(state)

    return replay


def _autograd(value: Callable[[], Tensor], leaves: dict[str, Tensor]) -> dict[str, Tensor]:
    """d value / d leaf for every leaf (zeros for leaves the value does not depend on)."""
    with torch.enable_grad():
        out = value()
        if not out.requires_grad:
            return {n: torch.zeros_like(t) for n, t in leaves.items()}
        grads = torch.autograd.grad(out, list(leaves.values()), allow_unused=True)
    return {
        n: torch.zeros_like(t) if g is None else g
        for (n, t), g in zip(leaves.items(), grads, strict=True)
    }


class _Plan(NamedTuple):
    """What every row of one check shares."""

    methods: Sequence[str]
    gen: torch.Generator
    fd_eps: float
    max_fd_elements: int
    tol: dict[str, tuple[float, float]]
    exact: bool


def _plan(
    subject: Layer | Loss,
    methods: Sequence[str],
    seed: int,
    dtype: torch.dtype,
    atol: float | None,
    rtol: float | None,
    fd_eps: float,
    max_fd_elements: int,
) -> _Plan:
    _check_methods(methods)
    gen = torch.Generator().manual_seed(seed)
    tol = _tolerances(dtype, atol, rtol)
    return _Plan(methods, gen, fd_eps, max_fd_elements, tol, is_exact(subject))


def _rows(
    plan: _Plan,
    found: Mapping[str, Tensor | None],
    wrt: dict[str, Tensor],
    objective: Callable[[], Tensor],
    reference: Callable[[dict[str, Tensor]], Tensor],
    weights: Tensor,
    output: tuple[str, Tensor],
) -> list[Row]:
    """The rows of one check: each explicit gradient `found[name]` of L = Σ(objective() ⊙
    weights) against finite differences in the float64 tensor `wrt[name]` and against
    autograd of `reference(leaves)` (leaves: copies of `wrt`), plus the explicit `output`
    (name, value) against the reference's value."""
    rows: list[Row] = []
    tol, exact = plan.tol, plan.exact
    if "finite_differences" in plan.methods:
        for name, tensor in wrt.items():
            rows.append(
                _finite_differences(
                    name,
                    tensor,
                    found[name],
                    objective,
                    weights,
                    plan.gen,
                    plan.fd_eps,
                    plan.max_fd_elements,
                    tol,
                    exact,
                )
            )
    if "autograd" in plan.methods:
        leaves = {n: t.detach().clone().requires_grad_(True) for n, t in wrt.items()}
        try:
            with torch.enable_grad():
                out = reference(leaves)
        except NotImplementedError as e:
            rows.append(_skipped("all", "autograd", f"no reference: {e}"))
        else:
            name, value = output
            rows.append(_compare(name, "autograd", value, out.detach(), None, tol, True))
            grads = _autograd(lambda: (out * weights).sum(), leaves)
            for name, g in grads.items():
                rows.append(_compare(name, "autograd", found[name], g, None, tol, exact))
    return rows


def _finite_differences(
    name: str,
    tensor: Tensor,
    found: Tensor | None,
    objective: Callable[[], Tensor],
    weights: Tensor,
    gen: torch.Generator,
    eps: float,
    max_elements: int,
    tol: dict[str, tuple[float, float]],
    exact: bool,
) -> Row:
    """Central differences of Σ(objective() ⊙ weights) on sampled elements of `tensor`."""
    numel = tensor.numel()
    index = torch.randperm(numel, generator=gen)[:max_elements].sort().values
    flat = tensor.view(-1)
    estimates = []
    for i in index.tolist():
        original = flat[i].item()
        flat[i] = original + eps
        plus = objective()
        flat[i] = original - eps
        minus = objective()
        flat[i] = original
        # Differences first, then the weighted sum: less cancellation than L(+) − L(−).
        estimates.append(((plus - minus) * weights).sum() / (2 * eps))
    fd = torch.stack(estimates) if estimates else flat[:0]
    return _compare(name, "finite_differences", found, fd, (index, tensor.shape), tol, exact)


def _compare(
    name: str,
    method: str,
    found: Tensor | None,
    reference: Tensor,
    sampled: tuple[Tensor, torch.Size] | None,
    tol: dict[str, tuple[float, float]],
    exact: bool,
) -> Row:
    """A row for `found` (explicit) against `reference` (float64), both full or sampled."""
    atol, rtol = tol[method]
    shape = reference.shape if sampled is None else sampled[1]
    if found is None:
        return _failed(name, method, atol, rtol, "backward returned None with input_grad=True")
    if found.shape != shape:
        return _failed(
            name, method, atol, rtol, f"shape {tuple(found.shape)}, expected {tuple(shape)}"
        )
    values = found.detach().to(device=reference.device, dtype=torch.float64)
    if sampled is not None:
        values = values.reshape(-1)[sampled[0].to(reference.device)]
    if values.numel() == 0:
        return _skipped(name, method, "no elements")
    error = (values - reference).abs().reshape(-1)
    k = int(error.nan_to_num(math.inf).argmax())
    max_abs = float(error.nan_to_num(math.inf).max())
    scale = float(reference.abs().max())
    position = k if sampled is None else int(sampled[0][k])
    ok = max_abs <= atol + rtol * scale
    status = "ok" if ok else "FAIL" if exact else "expected"
    return Row(
        name,
        method,
        max_abs,
        max_abs / max(scale, _TINY),
        _unravel(position, shape),
        float(values.reshape(-1)[k]),
        float(reference.reshape(-1)[k]),
        atol,
        rtol,
        status,
        "" if status != "expected" else "exact_gradient=False",
    )


def _unravel(position: int, shape: Sequence[int]) -> tuple[int, ...]:
    index = []
    for size in reversed(shape):
        position, r = divmod(position, size)
        index.append(r)
    return tuple(reversed(index))


def _failed(name: str, method: str, atol: float, rtol: float, note: str) -> Row:
    return Row(name, method, math.inf, math.inf, (), math.nan, math.nan, atol, rtol, "FAIL", note)


def _skipped(name: str, method: str, note: str) -> Row:
    return Row(name, method, math.nan, math.nan, (), math.nan, math.nan, 0.0, 0.0, "skipped", note)


def _sort_key(value: float) -> float:
    return math.inf if math.isnan(value) else value
