"""Kolen-Pollack, weight mirrors and DRTP (plugins/corebp_rules): each against the identity or
the hand computation that defines it, in float64, and through a real training run."""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path

import pytest
import torch
from corebp_optim.sgd import SGD
from corebp_rules import DirectRandomTargetProjection, KolenPollack, WeightMirrors
from corebp_rules.feedback import StandIn

from corebp.checks.alignment import angle
from corebp.errors import ConfigError, StateError
from corebp.layers import Conv2d, Flatten, Linear, Tanh
from corebp.layers.sequential import Sequential
from corebp.losses import CrossEntropyLoss
from corebp.recipe import load_recipe
from corebp.training.trainer import Trainer


def mlp(seed: int = 0, sizes: tuple[int, ...] = (6, 5, 5, 4)) -> Sequential:
    torch.manual_seed(seed)
    layers: list = []
    for n_in, n_out in pairwise(sizes):
        layers += [Linear(n_in, n_out, init="xavier"), Tanh()]
    return Sequential(*layers[:-1]).to(dtype=torch.float64)


def data(step: int, n: int = 8, features: int = 6, classes: int = 4):
    g = torch.Generator().manual_seed(1000 + step)
    x = torch.randn(n, features, generator=g, dtype=torch.float64)
    return x, torch.randint(0, classes, (n,), generator=g)


def train_step(model, rule, loss, optimizer, step: int) -> None:
    x, y = data(step)
    loss.forward(model.forward(x), y)
    if rule is not None:
        rule.before_backward(x, y)
    model.backward(loss.backward(), False)
    optimizer.step()
    model.zero_grad()
    if rule is not None:
        rule.after_update()


def stand_ins(model: Sequential) -> list[StandIn]:
    return [layer for layer in model.layers if isinstance(layer, StandIn)]


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


# -- Kolen-Pollack ---------------------------------------------------------------------------
def kp_model(B_equals_W: bool):
    model = mlp()
    rule = KolenPollack(generator=torch.Generator().manual_seed(7))
    rule.attach(model)
    if B_equals_W:
        with torch.no_grad():
            for s in stand_ins(model):
                if f"B.{s.name}" in rule.params:
                    rule.params[f"B.{s.name}"].copy_(s.layout(s.W))
    args = {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01}
    optimizer = SGD(model.params, model.grads, **args)
    optimizer.include(rule.params, rule.grads)
    return model, rule, optimizer


def test_kp_owns_b_for_every_layer_that_sends_an_error_below_and_the_optimizer_trains_it():
    model, rule, optimizer = kp_model(B_equals_W=False)
    assert sorted(rule.params) == ["B.2", "B.4"]  # layer 0's input is data: no error below
    assert rule.params["B.2"].shape == (5, 5) and rule.params["B.4"].shape == (4, 5)
    before = {k: B.clone() for k, B in rule.params.items()}
    train_step(model, rule, CrossEntropyLoss(), optimizer, 0)
    for k, B in rule.params.items():
        assert not torch.equal(B, before[k]), k
    assert set(optimizer.state) >= {"B.2", "B.4"}
    assert "momentum_buffer" in optimizer.state["B.2"]


def test_kp_with_b0_equal_to_w0_transposed_is_backprop_for_50_steps_momentum_and_decay():
    model, rule, optimizer = kp_model(B_equals_W=True)
    plain = mlp()
    plain_opt = SGD(plain.params, plain.grads, lr=0.05, momentum=0.9, weight_decay=0.01)
    loss, plain_loss = CrossEntropyLoss(), CrossEntropyLoss()
    for step in range(50):
        train_step(model, rule, loss, optimizer, step)
        train_step(plain, None, plain_loss, plain_opt, step)
        for k, p in plain.params.items():
            assert relative(model.params[k], p) <= 1e-12, (step, k)
    moved = max(relative(p, mlp().params[k]) for k, p in plain.params.items())
    assert moved > 0.05  # the 50 steps trained: the identity is not that of a still model


def test_kp_b_minus_w_transposed_shrinks_by_the_factor_sgd_with_momentum_and_decay_predicts():
    # D = B − Wᵀ: the gradients cancel, so D's buffer follows v ← μv + λD and D ← D − ηv
    # (first step v = λD): D_t = c_t D_0 with c from the same scalar recurrence.
    eta, mu, lam = 0.05, 0.9, 0.01
    model, rule, optimizer = kp_model(B_equals_W=False)
    layers = {s.name: s for s in stand_ins(model)}

    def differences() -> dict[str, torch.Tensor]:
        return {k: B - layers[k[2:]].layout(layers[k[2:]].W) for k, B in rule.params.items()}

    start = differences()
    c, v = 1.0, None
    for step in range(30):
        train_step(model, rule, CrossEntropyLoss(), optimizer, step)
        v = lam * c if v is None else mu * v + lam * c
        c -= eta * v
    assert 0.85 < c < 0.95  # it did shrink, by about a tenth
    for k, D in differences().items():
        assert relative(D, c * start[k]) <= 1e-10, k


def test_kp_trains_its_b_through_the_runs_optimizer_in_a_real_run(tmp_path):
    # No weight decay: B and Wᵀ receive the same updates, so B − Wᵀ stays what it was.
    trainer = Trainer(recipe(tmp_path, "kp"))
    rule = trainer.learning_rule
    layers = {s.name: s for s in stand_ins(trainer.model)}
    start = {k: (B - layers[k[2:]].layout(layers[k[2:]].W)).clone() for k, B in rule.params.items()}
    B0 = {k: B.clone() for k, B in rule.params.items()}
    trainer.train_epoch(0)
    for k, B in rule.params.items():
        assert not torch.equal(B, B0[k]), k
        D = B - layers[k[2:]].layout(layers[k[2:]].W)
        assert torch.allclose(D, start[k], rtol=0, atol=1e-5), k


# -- DRTP ------------------------------------------------------------------------------------
def test_drtp_on_a_two_hidden_layer_mlp_matches_the_hand_computation_from_the_one_hot_target():
    model = mlp()
    rule = DirectRandomTargetProjection(generator=torch.Generator().manual_seed(3))
    rule.attach(model)
    x, y = data(0)
    loss = CrossEntropyLoss()
    out = model.forward(x)
    loss.forward(out, y)
    rule.before_backward(x, y)
    model.backward(loss.backward(), False)
    got = {k: g.clone() for k, g in model.grads.items()}

    # By hand: h1 = tanh(x W0 + b0), h2 = tanh(h1 W2 + b2), out = h2 W4 + b4.
    p = {k: t.detach() for k, t in mlp().params.items()}
    h1 = torch.tanh(x @ p["0.W"] + p["0.b"])
    h2 = torch.tanh(h1 @ p["2.W"] + p["2.b"])
    logits = h2 @ p["4.W"] + p["4.b"]
    target = torch.nn.functional.one_hot(y, 4).double()
    e = (torch.softmax(logits, 1) - target) / x.shape[0]  # the true output error
    B2, B4 = rule.feedback["2"], rule.feedback["4"]  # (outputs, inputs of layers 2 and 4)
    assert B2.shape == (4, 5) and B4.shape == (4, 5)
    bound = math.sqrt(3) * math.sqrt(2 / 5)  # kaiming-uniform on (4, 5), as the authors
    assert B2.abs().max() <= bound and B2.abs().max() > bound / 2
    d2 = (target @ B4) * (1 - h2**2)  # what layer 2's pre-activation receives
    d1 = (target @ B2) * (1 - h1**2)
    want = {
        "4.W": h2.t() @ e,
        "4.b": e.sum(0),
        "2.W": h1.t() @ d2,
        "2.b": d2.sum(0),
        "0.W": x.t() @ d1,
        "0.b": d1.sum(0),
    }
    for k, w in want.items():
        assert torch.allclose(got[k], w, rtol=1e-12, atol=1e-15), k


def test_drtp_takes_a_float_target_as_it_is_and_refuses_one_of_another_shape():
    model = mlp()
    rule = DirectRandomTargetProjection(generator=torch.Generator().manual_seed(3))
    rule.attach(model)
    x, _ = data(0)
    out = model.forward(x)
    target = torch.rand(out.shape, dtype=torch.float64)
    rule.before_backward(x, target)
    model.backward(torch.ones_like(out), False)
    h1 = torch.tanh(x @ mlp().params["0.W"] + mlp().params["0.b"])
    d1 = (target @ rule.feedback["2"]) * (1 - h1**2)
    assert torch.allclose(model.grads["0.W"], x.t() @ d1, rtol=1e-12)
    model.forward(x)
    rule.before_backward(x, torch.rand(8, 3, dtype=torch.float64))
    with pytest.raises(Exception, match=r"drtp: target of shape \(8, 3\).*expected class"):
        model.backward(torch.ones_like(out), False)


def test_drtp_without_the_target_says_to_call_before_backward():
    model = mlp()
    DirectRandomTargetProjection().attach(model)
    x, _ = data(0)
    out = model.forward(x)
    with pytest.raises(StateError, match=r"call rule\.before_backward\(x, y\)"):
        model.backward(torch.ones_like(out), False)


def test_the_training_loop_hands_drtp_each_batchs_target_before_the_backward(tmp_path):
    trainer = Trainer(recipe(tmp_path, "drtp"))
    rule = trainer.learning_rule
    seen: list[torch.Tensor] = []
    original = rule.before_backward

    def spy(x, y):
        seen.append(y)
        original(x, y)

    rule.before_backward = spy  # type: ignore[method-assign]
    trainer.train_epoch(0)
    assert len(seen) == trainer.steps_per_epoch
    assert rule.target is seen[-1]


# -- weight mirrors --------------------------------------------------------------------------
def test_wm_brings_b_within_5_degrees_of_a_fixed_w_in_600_mirror_steps():
    model = mlp(sizes=(20, 30, 10))
    rule = WeightMirrors(initial=0, generator=torch.Generator().manual_seed(5))
    rule.attach(model)
    model.forward(torch.zeros(1, 20, dtype=torch.float64))  # the layers' input shapes
    s = stand_ins(model)[1]
    W = s.layout(s.W).clone()
    first = angle(rule.feedback["2"], W).item()
    rule.mirror(600)
    assert torch.equal(s.layout(s.W), W)  # mirroring reads W and never changes it
    assert first > 60
    assert angle(rule.feedback["2"], W).item() < 5
    # B tends to (η σ² / λ) W = W with the defaults: its size too
    assert 0.8 < (rule.feedback["2"].norm() / W.norm()).item() < 1.2
    assert all(g.abs().sum() == 0 for g in model.grads.values())  # scratch gradients cleared


def test_wm_runs_its_initial_phase_before_the_first_backward_then_every_nth_update():
    model = mlp()
    rule = WeightMirrors(initial=3, every=2, batches=2, generator=torch.Generator().manual_seed(5))
    rule.attach(model)
    counted: list[int] = []
    rule.mirror = counted.append  # type: ignore[method-assign]
    optimizer = SGD(model.params, model.grads, lr=0.1)
    for step in range(5):
        train_step(model, rule, CrossEntropyLoss(), optimizer, step)
    assert counted == [3, 2, 2]  # before step 0; after updates 2 and 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"rate": 0}, r"wm: rate=0 must be a positive number"),
        ({"noise": -1.0}, r"wm: noise=-1.0 must be a positive number"),
        ({"decay": 1.5}, r"wm: decay=1.5 must be in \[0, 1\)"),
        ({"every": 0}, r"wm: every=0 must be an integer ≥ 1"),
        ({"initial": -1}, r"wm: initial=-1 must be an integer ≥ 0"),
    ],
)
def test_wm_refuses_bad_arguments_naming_them(args, message):
    with pytest.raises(ConfigError, match=message):
        WeightMirrors(**args)


# -- every rule, through a run ---------------------------------------------------------------
def recipe(tmp_path: Path, rule: str, *extra: str):
    from tests.recipes.conftest import SYNTHETIC_RECIPE

    path = tmp_path / "spirals.yaml"
    path.write_text(SYNTHETIC_RECIPE)
    return load_recipe(str(path), [f"learning_rule.type={rule}", "checks.autograd=null", *extra])


@pytest.mark.parametrize("rule", ["kp", "wm", "drtp"])
def test_validate_prints_the_rules_stand_ins(rule, tmp_path):
    from typer.testing import CliRunner

    from corebp.cli.main import build

    path = tmp_path / "spirals.yaml"
    from tests.recipes.conftest import SYNTHETIC_RECIPE

    path.write_text(SYNTHETIC_RECIPE + f"learning_rule: {{type: {rule}}}\n")
    result = CliRunner().invoke(build(), ["validate", str(path)])
    assert result.exit_code == 0, result.output
    name = {"kp": "KolenPollack", "wm": "WeightMirrors", "drtp": "DirectRandomTargetProjection"}
    assert f"{name[rule]}(Linear(" in result.output


# -- the FA family's conventions (biotorch's, and the edge cases of the sample std) ----------
BIOTORCH_RULES = ["fa", "dfa", "usf", "brsf", "frsf", "kp", "wm"]


def wide(init: str = "xavier") -> Sequential:
    torch.manual_seed(0)
    return Sequential(
        Linear(300, 200, init=init), Tanh(), Linear(200, 100, init=init), Tanh(), Linear(100, 10)
    )


def biotorch_feedback(name: str, s: StandIn, rule) -> torch.Tensor:
    """What stood in for W in layer s's last backward, in torch.nn's layout."""
    if name == "usf":
        return rule.weights(s).mul(rule.scales[s.name])
    return rule.weights(s) if name != "dfa" else rule.feedback[s.name]


@pytest.mark.parametrize("name", BIOTORCH_RULES)
def test_the_biotorch_convention_draws_xavier_uniform_and_scales_signs_by_xaviers_std(name):
    from corebp.plugins import load_registry

    cls = load_registry().components["learning_rules"][name].obj
    model = wide()
    first = {"initial": 0} if name == "wm" else {}  # B₀ as drawn, before any mirror step
    rule = cls(convention="biotorch", generator=torch.Generator().manual_seed(0), **first)
    rule.attach(model)
    x = torch.randn(16, 300)
    out = model.forward(x)
    rule.before_backward(x, torch.randint(0, 10, (16,)))
    model.backward(torch.randn_like(out), False)
    s = stand_ins(model)[1]  # Linear(200, 100): B of torch's shape (100, 200)
    B = biotorch_feedback(name, s, rule)
    shape = (10, 200) if name == "dfa" else (100, 200)  # dfa: (outputs, inputs)
    assert B.shape == shape
    fan = sum(shape)
    std, bound = math.sqrt(2 / fan), math.sqrt(6 / fan)  # torch's xavier_uniform_, gain 1
    if name == "usf":  # biotorch's scaling_factor · sign(W)
        assert torch.equal(B, std * s.layout(s.W).sign())
        return
    assert B.abs().max() <= bound * (1 + 1e-6)
    assert B.abs().max() > 0.99 * bound  # uniform: its largest draws reach the bound
    assert abs(B.std().item() / std - 1) < 0.05  # 20,000 draws (2,000 for dfa): std ± 5 %
    if name in ("brsf", "frsf"):
        assert torch.equal(B.sign(), s.layout(s.W).sign())


def test_dfa_under_biotorchs_convention_sends_a_conv_layer_biotorchs_kernel_feedback():
    """biotorch's DFA Conv2d (layers/dfa/conv.py): δx = conv2d_input(x.shape, weight_dfa, e
    repeated over the layer's output positions), weight_dfa (outputs, C_in, kh, kw) xavier."""
    from corebp_rules import DirectFeedbackAlignment

    torch.manual_seed(0)
    model = Sequential(
        Conv2d(2, 4, 3),
        Tanh(),
        Conv2d(4, 6, 3, stride=2, padding=1),
        Tanh(),
        Flatten(),
        Linear(6 * 3 * 3, 5),
    ).to(dtype=torch.float64)
    rule = DirectFeedbackAlignment(
        convention="biotorch", generator=torch.Generator().manual_seed(1)
    )
    rule.attach(model)
    x = torch.randn(3, 2, 7, 7, dtype=torch.float64)
    out = model.forward(x)
    e = torch.randn_like(out)
    model.backward(e, False)

    B = rule.feedback["2"]
    assert B.shape == (5, 4, 3, 3)  # (outputs, C_in, kh, kw), as biotorch's weight_dfa
    bound = math.sqrt(6 / ((5 + 4) * 9))  # xavier_uniform_ of that shape
    assert 0.9 * bound < B.abs().max() <= bound * (1 + 1e-12)
    conv0 = model.layers[0].layer
    a0 = torch.tanh(torch.nn.functional.conv2d(x, conv0.params["W"], conv0.params["b"]))
    repeated = e[:, :, None, None].repeat(1, 1, 3, 3)  # conv2's output is 3×3
    sent = torch.nn.grad.conv2d_input(a0.shape, B, repeated, stride=2, padding=1)
    W0 = conv0.params["W"].detach().requires_grad_()
    y0 = torch.tanh(torch.nn.functional.conv2d(x, W0, conv0.params["b"]))
    (expected,) = torch.autograd.grad(y0, W0, sent)
    assert torch.allclose(conv0.grads["W"], expected, rtol=1e-12, atol=0)
    # A Linear layer's B is (outputs, inputs) either way: biotorch's e B_k.
    assert rule.feedback["5"].shape == (5, 54)


@pytest.mark.parametrize("name", ["fa", "usf", "brsf", "frsf", "kp", "wm"])
@pytest.mark.parametrize("case", ["zeros", "one element"])
def test_a_w_without_spread_is_refused_under_corebps_convention_and_fine_under_biotorchs(
    name, case
):
    from corebp.plugins import load_registry

    cls = load_registry().components["learning_rules"][name].obj
    model = (
        Sequential(Linear(1, 1), Tanh(), Linear(1, 1))
        if case == "one element"
        else Sequential(Linear(4, 3, init="zeros"), Tanh(), Linear(3, 2, init="zeros"))
    )
    why = "NaN" if case == "one element" else "zero"
    # Layer 2 sends its error below it; layer 0's B (never used in training) is not refused.
    with pytest.raises(ConfigError, match=rf"layer 2's initial W .* no spread .* would be {why}"):
        cls().attach(model)
    first_only = Sequential(Linear(4, 3, init="zeros"), Tanh(), Linear(3, 2))
    cls().attach(first_only)  # only the first layer has no spread: nothing is starved
    rule = cls(convention="biotorch")
    fresh = (
        Sequential(Linear(1, 1), Tanh(), Linear(1, 1))
        if case == "one element"
        else Sequential(Linear(4, 3, init="zeros"), Tanh(), Linear(3, 2, init="zeros"))
    )
    rule.attach(fresh)
    assert all(math.isfinite(v) and v > 0 for v in rule.scales.values())


def test_an_unknown_convention_is_refused_naming_the_choices():
    from corebp_rules import FeedbackAlignment

    with pytest.raises(ConfigError, match=r"convention='torch' is not one of corebp, biotorch"):
        FeedbackAlignment(convention="torch")


@pytest.mark.parametrize("name", ["kp", "wm"])
def test_alignment_reports_feedback_vs_weight_for_kp_and_wm_zero_when_b_is_w(name):
    from corebp.checks.alignment import AlignmentCheck

    cls = KolenPollack if name == "kp" else WeightMirrors
    model, loss = mlp(), CrossEntropyLoss()
    rule = cls(generator=torch.Generator().manual_seed(0))
    rule.attach(model)
    check = AlignmentCheck(model, loss, rule, every=1)
    x, y = data(0)
    loss.forward(model.forward(x), y)
    rule.before_backward(x, y)  # wm: its initial mirror phase
    with torch.no_grad():
        s = rule.stand_ins[2]  # the check wrapped each stand-in in a tap
        rule.feedback[s.name].copy_(s.layout(s.W))
    model.backward(loss.backward(), False)
    angles = check.measure(x, y)
    assert angles["4.W"]["feedback_vs_weight"] == pytest.approx(0, abs=1e-4)
    assert 0 < angles["2.W"]["feedback_vs_weight"] < 180


def test_a_rule_tensor_named_like_a_model_parameter_is_refused():
    model = mlp()
    optimizer = SGD(model.params, model.grads, lr=0.1)
    W = model.params["0.W"]
    with pytest.raises(ValueError, match=r"\['0\.W'\] are trained already"):
        optimizer.include({"0.W": W.clone()}, {"0.W": W.clone()})
    with pytest.raises(ValueError, match=r"\['B'\] have a parameter or a gradient only"):
        optimizer.include({"B": W.clone()}, {})
