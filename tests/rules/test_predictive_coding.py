"""Predictive coding (`pc`, plugins/corebp_rules/predictive_coding.py), in float64: the update
against an autograd implementation of the relaxation, backprop's updates under the
fixed-prediction assumption (Z-IL), the approach to backprop as T grows, examples relaxing on
their own (data parallelism), validation, resume and the alignment diagnostics."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest
import torch
from corebp_rules import PredictiveCoding

from corebp.checks.alignment import AlignmentCheck, angle
from corebp.contracts.loss import Loss
from corebp.errors import ConfigError
from corebp.layers import BatchNorm1d, Dropout, Linear, Tanh
from corebp.layers.sequential import Sequential
from corebp.losses import CrossEntropyLoss, MSELoss
from corebp.recipe import load_recipe
from corebp.training.run import run_recipe
from tests.recipes.conftest import write_synthetic_recipe
from tests.recipes.test_resume import (
    RECIPE,
    assert_rule_resumes_exactly,
)

SIZES = (6, 5, 5, 5, 4)  # four blocks (Linear + Tanh; the last Linear alone): three hidden nodes
HIDDEN = len(SIZES) - 2
LOSSES: dict[str, Callable[[], Loss]] = {
    "cross_entropy": lambda: CrossEntropyLoss(),
    "mse_half_sum": lambda: MSELoss(reduction="sum", scale=0.5),  # ½‖out − y‖²: y clamped
    "mse_mean": lambda: MSELoss(),
}


def mlp(seed: int = 0, sizes: tuple[int, ...] = SIZES) -> Sequential:
    torch.manual_seed(seed)
    layers: list = []
    for n_in, n_out in pairwise(sizes):
        layers += [Linear(n_in, n_out, init="xavier"), Tanh()]
    return Sequential(*layers[:-1]).to(dtype=torch.float64)


def batch(n: int = 8, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, SIZES[0], generator=g, dtype=torch.float64)
    return x, torch.randint(0, SIZES[-1], (n,), generator=g)


def backprop(model: Sequential, loss: Loss, x: torch.Tensor, y: torch.Tensor) -> dict:
    model.zero_grad()
    loss.forward(model.forward(x), y)
    model.backward(loss.backward(), False)
    grads = {k: g.clone() for k, g in model.grads.items()}
    model.zero_grad()
    return grads


def pc(model: Sequential, loss: Loss, x: torch.Tensor, y: torch.Tensor, **args) -> dict:
    rule = PredictiveCoding(**args)
    rule.attach(model)
    rule.train_step(model, loss, x, y)
    grads = {k: g.clone() for k, g in model.grads.items()}
    model.zero_grad()
    return grads


def relative(got: dict, want: dict) -> float:
    diff = torch.cat([(got[k] - w).flatten() for k, w in want.items()])
    return (diff.norm() / torch.cat([w.flatten() for w in want.values()]).norm()).item()


def reference(
    model: Sequential, loss: Loss, x, y, steps: int, rate: float, fixed: bool, weight: float
) -> dict:
    """pc by autograd, from the definitions: blocks f_k(v) = tanh(v W_k + b_k) (the last one
    without tanh), the example's own loss ℓ (the summed loss), ε_L = −β ∂ℓ/∂μ_L; T steps of
    v_k ← v_k − γ (ε_k − J_{k+1}ᵀ ε_{k+1}) with the Jacobians at v (at the feed-forward values
    when `fixed`); the update r/β · ∂F/∂θ, F = Σ −ε_k · μ_k + β ℓ(μ_L) with ε held."""
    n_blocks = len(SIZES) - 1
    params = {k: p.detach().clone().requires_grad_() for k, p in model.params.items()}

    def f(k: int, v: torch.Tensor) -> torch.Tensor:
        a = v @ params[f"{2 * k}.W"] + params[f"{2 * k}.b"]
        return a if k == n_blocks - 1 else torch.tanh(a)

    def ell(mu: torch.Tensor) -> torch.Tensor:  # Σₙ ℓ(example n)
        return loss.reference(mu, y) * (x.shape[0] if loss.reduction == "mean" else 1)

    with torch.no_grad():
        ff = [x]
        for k in range(n_blocks):
            ff.append(f(k, ff[-1]))
    nodes = [v.clone() for v in ff[1:-1]]

    def predictions() -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        points = [t.detach().requires_grad_() for t in (ff[:-1] if fixed else [x, *nodes])]
        return points, [f(k, points[k]) for k in range(n_blocks)]

    for _ in range(steps):
        points, mus = predictions()
        (g,) = torch.autograd.grad(ell(mus[-1]), mus[-1], retain_graph=True)
        eps = [n - m.detach() for n, m in zip(nodes, mus, strict=False)] + [-weight * g]
        sent = [
            torch.autograd.grad(mus[k + 1], points[k + 1], eps[k + 1], retain_graph=True)[0]
            for k in range(len(nodes))
        ]
        nodes = [n - rate * (e - s) for n, e, s in zip(nodes, eps, sent, strict=False)]
    _, mus = predictions()
    energy = weight * ell(mus[-1])
    for n, m in zip(nodes, mus, strict=False):
        energy = energy - ((n - m.detach()) * m).sum()
    r = 1 / x.shape[0] if loss.reduction == "mean" else 1.0
    grads = torch.autograd.grad(energy, list(params.values()))
    return {k: g * (r / weight) for k, g in zip(params, grads, strict=True)}


# -- the update ------------------------------------------------------------------------------
@pytest.mark.parametrize("loss_name", list(LOSSES))
@pytest.mark.parametrize(
    ("steps", "rate", "fixed", "weight"),
    [(1, 0.1, False, 1.0), (7, 0.3, False, 1.0), (7, 0.3, False, 0.01), (4, 0.2, True, 1.0)],
)
def test_the_update_is_the_autograd_relaxation_of_the_energy(loss_name, steps, rate, fixed, weight):
    model, loss = mlp(), LOSSES[loss_name]()
    x, y = batch()
    want = reference(mlp(), loss, x, y, steps, rate, fixed, weight)
    args = {"steps": steps, "rate": rate, "fixed_prediction": fixed, "output_weight": weight}
    got = pc(model, loss, x, y, **args)
    assert relative(got, want) <= 1e-12


@pytest.mark.parametrize("loss_name", list(LOSSES))
@pytest.mark.parametrize("steps", [HIDDEN, HIDDEN + 1, 10])
def test_fixed_prediction_at_rate_1_gives_backprops_updates_from_as_many_steps_as_hidden_nodes(
    loss_name, steps
):
    model, loss = mlp(), LOSSES[loss_name]()
    x, y = batch()
    want = backprop(mlp(), loss, x, y)
    got = pc(model, loss, x, y, steps=steps, rate=1.0, fixed_prediction=True)
    for k, w in want.items():
        assert relative({k: got[k]}, {k: w}) <= 1e-10, k


def test_one_step_fewer_than_the_hidden_nodes_leaves_the_first_layer_without_its_error():
    model, loss = mlp(), CrossEntropyLoss()
    x, y = batch()
    got = pc(model, loss, x, y, steps=HIDDEN - 1, rate=1.0, fixed_prediction=True)
    assert torch.count_nonzero(got["0.W"]) == 0  # ε₁ is still 0: the error has not reached it
    assert relative(got, backprop(mlp(), loss, x, y)) > 0.1


def test_the_update_approaches_backprops_as_t_grows():
    """Relative error from backprop, T = 1 … 100 at rate 0.1 (benchmarks/pc_convergence.py has
    the same on MNIST): decreasing for standard pc and under fixed prediction; standard pc's
    limit is backprop only as the output's weight β goes to 0."""
    model, loss = mlp(sizes=(20, 16, 16, 4)), CrossEntropyLoss()
    g = torch.Generator().manual_seed(3)
    x, y = (
        torch.randn(16, 20, generator=g, dtype=torch.float64),
        torch.randint(0, 4, (16,), generator=g),
    )
    want = backprop(model, loss, x, y)
    curves = {}
    for name, args in {
        "standard": {"output_weight": 1.0},
        "small beta": {"output_weight": 0.01},
        "fixed": {"fixed_prediction": True},
    }.items():
        curves[name] = [
            relative(pc(model, loss, x, y, steps=t, rate=0.1, **args), want)
            for t in (1, 2, 5, 10, 20, 50, 100)
        ]
    for name, curve in curves.items():
        assert all(b < a for a, b in pairwise(curve)), (name, curve)
    assert curves["fixed"][-1] < 1e-3  # → 0: at equilibrium the errors are backprop's
    # Standard pc's equilibrium differs from backprop by O(β): near it at β = 0.01, not at 1.
    assert curves["small beta"][-1] < 0.1 < 0.3 < curves["standard"][-1]


def test_each_example_relaxes_on_its_own_so_two_halves_give_the_whole_batchs_update():
    model, loss = mlp(), CrossEntropyLoss()
    x, y = batch(n=10)
    whole = pc(model, loss, x, y, steps=6, rate=0.3)
    halves = [
        pc(model, loss, xs, ys, steps=6, rate=0.3)
        for xs, ys in zip(x.split(5), y.split(5), strict=True)
    ]
    combined = {k: (halves[0][k] + halves[1][k]) / 2 for k in whole}  # two means of 5
    assert relative(combined, whole) <= 1e-13


def test_the_step_returns_the_feed_forward_outputs_and_their_loss():
    model, loss = mlp(), CrossEntropyLoss()
    x, y = batch()
    rule = PredictiveCoding(steps=5)
    rule.attach(model)
    out, value = rule.train_step(model, loss, x, y)
    assert torch.equal(out, mlp().forward(x))
    assert value.item() == CrossEntropyLoss().forward(mlp().forward(x), y).item()


# -- the recipe, the CLI ---------------------------------------------------------------------
def pc_recipe(tmp_path: Path, *overrides: str) -> Path:
    return write_synthetic_recipe(
        tmp_path / "r.yaml",
        "train.dtype=float64",
        "checks.autograd=null",
        "learning_rule={type: pc, steps: 4, rate: 1.0, fixed_prediction: true}",
        *overrides,
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("learning_rule.steps=0", r"steps=0 must be an integer ≥ 1.*learning_rule\.steps"),
        ("learning_rule.rate=0", r"rate=0.0 must be a number in \(0, 2\).*learning_rule\.rate"),
        ("learning_rule.rate=-0.1", r"rate=-0.1 must be a number in \(0, 2\)"),
        ("learning_rule.rate=2", r"rate=2.0 must be a number in \(0, 2\)"),
        ("learning_rule.output_weight=0", r"output_weight=0.0 must be a positive number"),
        ("model.1={type: dropout, p: 0.2}", r"layer 1 \(Dropout.*changes with each forward"),
        ("model=[{type: tanh}]", r"no layer with parameters"),
    ],
)
def test_validate_refuses_bad_arguments_and_models_before_writing_naming_the_key(
    override, message, tmp_path, corebp_cli
):
    path = pc_recipe(tmp_path)
    code, out, err = corebp_cli("validate", str(path), override)
    assert code == 2, (out, err)
    assert err.startswith("corebp: error: learning_rule: pc: ") and len(err.splitlines()) == 1
    assert re.search(message, err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.yaml"]


def test_a_model_with_batchnorm_is_refused():
    with pytest.raises(ConfigError, match=r"layer 1 \(BatchNorm1d.*running statistics"):
        PredictiveCoding().attach(Sequential(Linear(3, 4), BatchNorm1d(4), Linear(4, 2)))
    PredictiveCoding().attach(Sequential(Linear(3, 4), Dropout(0.0), Linear(4, 2)))  # p = 0


def test_validate_prints_the_rule_with_its_value_nodes_and_show_lists_every_argument(
    tmp_path, corebp_cli
):
    code, out, _ = corebp_cli("validate", str(pc_recipe(tmp_path)))
    assert code == 0
    assert "PredictiveCoding(steps=4, rate=1, fixed_prediction=True, output_weight=1; value " in out
    assert "nodes before layers [2])" in out
    code, out, _ = corebp_cli("show", "pc")
    assert code == 0
    for arg in ("steps", "rate", "fixed_prediction", "output_weight"):
        assert re.search(rf"^  {arg} ", out, re.M), out


def test_a_run_under_fixed_prediction_is_backprops_run(tmp_path):
    run_recipe(
        load_recipe(str(pc_recipe(tmp_path, "checks={alignment: {every: 1}}"))), tmp_path / "pc"
    )
    path = write_synthetic_recipe(tmp_path / "bp.yaml", "train.dtype=float64")
    run_recipe(load_recipe(str(path), ["checks.autograd=null"]), tmp_path / "bp")
    a = torch.load(tmp_path / "pc" / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "bp" / "checkpoint.pt", weights_only=True)["model"]
    for k, p in b.items():
        assert torch.allclose(a[k], p, rtol=1e-9, atol=1e-12), k
    summary = json.loads((tmp_path / "pc" / "summary.json").read_text())["alignment"]
    for layer in ("0.W", "2.W"):
        for name in ("update_vs_gradient", "error_vs_backprop"):
            assert summary["layers"][layer][name]["mean"] < 1e-4, (layer, name)


def test_alignment_measures_pcs_update_and_the_prediction_error_each_layer_learns_from():
    model, loss = mlp(), CrossEntropyLoss()
    rule = PredictiveCoding(steps=20, rate=0.2)
    rule.attach(model)
    check = AlignmentCheck(model, loss, rule, every=1)  # its taps around each Linear
    x, y = batch()
    rule.train_step(model, loss, x, y)
    angles = check.measure(x, y)
    untapped = pc(mlp(), CrossEntropyLoss(), x, y, steps=20, rate=0.2)
    truth = backprop(mlp(), CrossEntropyLoss(), x, y)
    assert set(angles) == {"0.W", "2.W", "4.W", "6.W"}
    for name, found in angles.items():
        assert found["update_vs_gradient"] == pytest.approx(
            angle(untapped[name], truth[name]).item()
        )
        # the error of the weight pass, r·(−ε_k) through tanh′: near backprop's, not equal to it
        assert 1 < found["error_vs_backprop"] < 45, name


def test_a_pc_run_stopped_mid_epoch_resumes_exactly(tmp_path):
    text = "".join(line for line in RECIPE.splitlines(True) if "dropout" not in line)
    path = tmp_path / "rule.yaml"
    path.write_text(text + "learning_rule: {type: pc, steps: 5, rate: 0.2}\n")
    state = assert_rule_resumes_exactly(path, tmp_path)
    assert set(state) == {"generator"}  # pc keeps nothing between batches but its generator


def test_two_ranks_give_one_process_updates_every_step(tmp_path):
    from tests.distributed.record_steps import record
    from tests.distributed.torchrun_launch import torchrun

    path = pc_recipe(tmp_path, "learning_rule.fixed_prediction=false", "learning_rule.rate=0.2")
    cases = json.dumps({"pc": []})
    (tmp_path / "two").mkdir()
    (tmp_path / "one").mkdir()
    script = Path(__file__).parents[1] / "distributed" / "record_steps.py"
    done = torchrun(str(script), str(tmp_path / "two"), str(path), cases, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        record(tmp_path / "one", str(path), json.loads(cases), shards=2)
    finally:
        torch.set_num_threads(threads)
    two, one = (torch.load(tmp_path / d / "pc.pt") for d in ("two", "one"))
    assert len(one["grads"]) == len(two["grads"]) > 1
    for step, (g1, g2) in enumerate(zip(one["grads"], two["grads"], strict=True)):
        for k in g1:
            assert torch.equal(g2[k], g1[k]), (step, k)
