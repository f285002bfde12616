"""Difference target propagation (plugins/corebp_rules/target_prop.py): its targets and updates
against a hand computation in float64, the models and arguments it refuses, the alignment
diagnostics under it, and a killed run that resumes to the same bits (issue 22)."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from corebp_rules import DifferenceTargetPropagation

from corebp.errors import ConfigError
from corebp.layers import Conv2d, Flatten, Linear, Tanh
from corebp.layers.sequential import Sequential
from corebp.losses import CrossEntropyLoss, MSELoss
from corebp.recipe import load_recipe
from corebp.training.run import resume_run, run_recipe
from tests.recipes.conftest import write_synthetic_recipe
from tests.recipes.test_resume import assert_same_run, stopped_run

ARGS = {"target_step": 0.3, "noise": 0.2, "inverse_lr": 0.05}


def net(seed: int = 0) -> Sequential:
    """5 → 4 → 4 → 3, tanh: two hidden layers, so one learned inverse (of layer 2)."""
    torch.manual_seed(seed)
    layers = [Linear(5, 4, init="xavier"), Tanh(), Linear(4, 4, init="xavier"), Tanh()]
    return Sequential(*layers, Linear(4, 3, init="xavier")).to(dtype=torch.float64)


def batch(n: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    return torch.randn(n, 5, generator=g, dtype=torch.float64), torch.randint(
        0, 3, (n,), generator=g
    )


def hand_step(params, inverse, x, y, noise, step, sigma, reduce):
    """One DTP step written out with plain torch ops (autograd for the local gradients):
    the targets, the layers' gradients and the inverse's gradient."""
    W0, b0, W2, b2, W4, b4 = (params[k] for k in ("0.W", "0.b", "2.W", "2.b", "4.W", "4.b"))
    V, c = inverse

    def g(h):
        return torch.tanh(h @ V + c)

    def f2(h):
        return torch.tanh(h @ W2 + b2)

    h1 = torch.tanh(x @ W0 + b0)
    h2 = f2(h1).detach().requires_grad_()
    out = h2 @ W4 + b4
    # Each example's own loss gradient at the last hidden layer: of the sum over the batch.
    (e,) = torch.autograd.grad(F.cross_entropy(out, y, reduction="sum"), h2)
    t2 = h2.detach() - step * e
    t1 = h1 + g(t2) - g(h2.detach())
    out_loss = F.cross_entropy(h2.detach() @ W4 + b4, y, reduction=reduce)
    local2 = ((torch.tanh(h1.detach() @ W2 + b2) - t2) ** 2).sum(1)
    local1 = ((torch.tanh(x @ W0 + b0) - t1.detach()) ** 2).sum(1)
    corrupted = h1.detach() + sigma * noise
    rebuilt = ((g(f2(corrupted).detach()) - corrupted) ** 2).sum(1)
    reduce_ = torch.mean if reduce == "mean" else torch.sum
    grads = {}
    for loss, names in ((out_loss, ("4.W", "4.b")), (reduce_(local2), ("2.W", "2.b"))):
        grads |= dict(
            zip(names, torch.autograd.grad(loss, [params[k] for k in names]), strict=True)
        )
    grads |= dict(zip(("0.W", "0.b"), torch.autograd.grad(reduce_(local1), [W0, b0]), strict=True))
    inverse_grads = torch.autograd.grad(reduce_(rebuilt), [V, c])
    return {0: t1.detach(), 2: t2}, grads, inverse_grads


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_dtp_targets_and_updates_equal_the_hand_computation_float64(reduction):
    model, rule = (
        net(),
        DifferenceTargetPropagation(**ARGS, generator=torch.Generator().manual_seed(3)),
    )
    rule.attach(model)
    x, y = batch()
    inverse = rule.inverses[2]
    V0, c0 = (inverse.params[k].clone() for k in ("0.W", "0.b"))
    # The inverse's noise: the rule's next draw, N(0, 1) of h₁'s shape, scaled by σ.
    noise = torch.randn(6, 4, generator=torch.Generator().set_state(rule.generator.get_state()))
    noise = noise.double()
    params = {k: p.detach().clone().requires_grad_() for k, p in model.params.items()}
    want_targets, want_grads, (dV, dc) = hand_step(
        params,
        (V0.requires_grad_(), c0.requires_grad_()),
        x,
        y,
        noise,
        ARGS["target_step"],
        ARGS["noise"],
        reduction,
    )

    out, value = rule.train_step(model, CrossEntropyLoss(reduction=reduction), x, y)

    assert torch.equal(out, model.forward(x))
    assert value.item() == pytest.approx(F.cross_entropy(out, y, reduction=reduction).item())
    for k, t in want_targets.items():
        torch.testing.assert_close(rule.targets[k], t, rtol=0, atol=1e-12)
    for k, g in want_grads.items():
        torch.testing.assert_close(model.grads[k], g, rtol=0, atol=1e-12, msg=k)
    lr = ARGS["inverse_lr"]
    torch.testing.assert_close(inverse.params["0.W"], V0.detach() - lr * dV, rtol=0, atol=1e-12)
    torch.testing.assert_close(inverse.params["0.b"], c0.detach() - lr * dc, rtol=0, atol=1e-12)


def test_the_last_hidden_layers_update_is_backprops_times_twice_the_target_step():
    """ĥ = h − η̂ ∂ℓ/∂h makes its local loss's gradient 2η̂ times the true one (mean loss)."""
    model, rule = net(), DifferenceTargetPropagation(**ARGS)
    plain = net()
    rule.attach(model)
    x, y = batch()
    rule.train_step(model, CrossEntropyLoss(), x, y)
    loss = CrossEntropyLoss()
    loss.forward(plain.forward(x), y)
    plain.backward(loss.backward(), False)
    for k in ("2.W", "2.b"):
        torch.testing.assert_close(model.grads[k], 2 * ARGS["target_step"] * plain.grads[k])
    for k in ("4.W", "4.b"):
        torch.testing.assert_close(model.grads[k], plain.grads[k])
    assert not torch.allclose(model.grads["0.W"], 2 * ARGS["target_step"] * plain.grads["0.W"])


def test_the_inverse_learns_to_reconstruct_the_layer_below():
    model, rule = net(), DifferenceTargetPropagation(noise=0.1, inverse_lr=0.2, target_step=0)
    rule.attach(model)
    x, _ = batch(64)
    h1 = torch.tanh(model.layers[0].forward(x))

    def error() -> float:
        back = rule.inverses[2].forward(model.layers[3].forward(model.layers[2].forward(h1)))
        return (back - h1).square().sum(1).mean().item()

    before = error()
    for _ in range(200):
        rule.train_step(model, MSELoss(), x, torch.zeros(64, 3, dtype=torch.float64))
    assert error() < 0.5 * before


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            Sequential(Conv2d(1, 2, 3), Flatten(), Linear(8, 3)),
            r"learning_rule: dtp applies to Linear layers .* model\.0 is Conv2d",
        ),
        (Sequential(Linear(4, 3), Tanh()), r"dtp needs a hidden layer .* 1 Linear layer"),
    ],
)
def test_dtp_refuses_a_model_it_has_no_inverse_for(model, message):
    with pytest.raises(ConfigError, match=message):
        DifferenceTargetPropagation().attach(model)


@pytest.mark.parametrize("arg", ["target_step", "noise", "inverse_lr"])
def test_validate_refuses_a_negative_argument_naming_its_key(arg, tmp_path, corebp_cli):
    path = write_synthetic_recipe(
        tmp_path / "r.yaml", "learning_rule.type=dtp", f"learning_rule.{arg}=-0.5"
    )
    code, _, err = corebp_cli("validate", str(path))
    assert code == 2
    assert err == (
        f"corebp: error: learning_rule: dtp: {arg}=-0.5 must be a number ≥ 0; set "
        f"learning_rule.{arg} to one (docs/learning-rules.md#dtp gives the defaults).\n"
    )


@pytest.mark.mnist
def test_validate_refuses_a_convolutional_model(corebp_cli):
    code, _, err = corebp_cli("validate", "mnist-lenet5", "learning_rule.type=dtp")
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("corebp: error: learning_rule: dtp applies to Linear layers")
    assert "model.0 is Conv2d(" in err


def test_validate_refuses_data_parallel_saying_why(tmp_path, monkeypatch, corebp_cli):
    mlp = write_synthetic_recipe(tmp_path / "r.yaml", "learning_rule.type=dtp")
    monkeypatch.setenv("WORLD_SIZE", "2")
    code, _, err = corebp_cli("validate", str(mlp))
    assert code == 2
    assert "dtp does not train data-parallel (this run has 2 processes)" in err


@pytest.mark.mnist
def test_validate_prints_the_rule_with_its_inverse(corebp_cli):
    code, out, _ = corebp_cli("validate", "mnist-mlp2-dtp")
    assert code == 0
    assert (
        "learning rule: DifferenceTargetPropagation(target_step=0.1, noise=0.1, "
        "inverse_lr=0.01, inverses={2: Linear(256 -> 256, bias=True) + Tanh()})"
    ) in out


RESUMABLE = """\
model:
  - {type: linear, in_features: 2, out_features: 16, init: xavier}
  - {type: relu}
  - {type: linear, in_features: 16, out_features: 16, init: xavier}
  - {type: tanh}
  - {type: linear, in_features: 16, out_features: 3, init: xavier}
loss: {type: cross_entropy}
optimizer: {type: sgd, lr: 0.1, momentum: 0.9}
learning_rule: {type: dtp, target_step: 0.5, noise: 0.3, inverse_lr: 0.05}
data: {source: synthetic, batch_size: 16, args: {kind: spirals, num_classes: 3, train_size: 200}}
train: {epochs: 3, seed: 0, device: cpu}
metrics: [loss, accuracy]
output: {progress: log, plots: false, checkpoint_every: 3}
"""


def test_a_killed_dtp_run_resumes_to_the_same_bits_inverses_and_noise_included(tmp_path):
    recipe = tmp_path / "dtp.yaml"
    recipe.write_text(RESUMABLE)
    killed = stopped_run("KILL", 20, recipe, tmp_path / "killed")  # epoch 2 of 3
    assert killed.returncode == -9, killed.stderr
    resume_run(tmp_path / "killed")
    run_recipe(load_recipe(str(recipe)), tmp_path / "whole")
    assert_same_run(tmp_path / "killed", tmp_path / "whole")
    a, b = (
        torch.load(tmp_path / run / "checkpoint.pt", weights_only=True)["learning_rule"]
        for run in ("killed", "whole")
    )
    assert sorted(b) == ["generator", "inverse.2.W", "inverse.2.b"]
    assert all(torch.equal(a[k], t) for k, t in b.items())


def test_alignment_under_dtp_measures_the_local_errors(tmp_path):
    """update_vs_gradient and error_vs_backprop for every layer: 0° for the output layer
    (the true gradient) and the last hidden one (its target is a gradient step), not for the
    first (its target comes through the learned inverse)."""
    path = tmp_path / "dtp.yaml"
    path.write_text(RESUMABLE)
    run, summary = run_recipe(
        load_recipe(str(path), ["checks.alignment={every: 1}", "train.epochs=1"]), tmp_path / "r"
    )
    layers = summary["alignment"]["layers"]
    assert sorted(layers) == ["0.W", "2.W", "4.W"]
    for name in ("2.W", "4.W"):
        for angle in ("update_vs_gradient", "error_vs_backprop"):
            assert layers[name][angle]["mean"] < 0.01, (name, angle)
    assert layers["0.W"]["update_vs_gradient"]["mean"] > 1
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert sum("alignment" in r for r in rows) == 13


def test_the_autograd_check_reports_dtps_difference_as_expected(tmp_path):
    """The rule leaves the model's layers as they are, so the check reads its exactness from
    the rule: the run goes on and the summary says the difference was expected."""
    path = write_synthetic_recipe(tmp_path / "r.yaml", "learning_rule.type=dtp", "train.epochs=1")
    _, summary = run_recipe(load_recipe(str(path)), tmp_path / "r")
    check = summary["autograd_check"]
    assert check["exact_gradient"] is False and check["passed"] is False
    assert check["steps_checked"] == summary["steps"]
