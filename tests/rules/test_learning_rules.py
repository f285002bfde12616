"""Learning rules (plugins/corebp_rules): each equals backprop where its feedback is made equal
to Wᵀ, keeps the weight update local, and its state is seeded apart from the weights."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from corebp_rules import (
    BatchwiseRandomSignFeedback,
    DirectFeedbackAlignment,
    FeedbackAlignment,
    FixedRandomSignFeedback,
    UniformSignFeedback,
)
from corebp_rules.feedback import FeedbackRule, StandIn

from corebp.contracts.layer import Layer
from corebp.errors import ConfigError
from corebp.layers import Conv2d, Flatten, Linear, ReLU, Tanh
from corebp.layers.sequential import Sequential
from corebp.losses import CrossEntropyLoss
from corebp.recipe import load_recipe
from corebp.training import checkpoint
from corebp.training.trainer import Trainer

RULES = {
    "fa": FeedbackAlignment,
    "dfa": DirectFeedbackAlignment,
    "usf": UniformSignFeedback,
    "brsf": BatchwiseRandomSignFeedback,
    "frsf": FixedRandomSignFeedback,
}


def mlp(dtype: torch.dtype, hidden: int = 2) -> Sequential:
    torch.manual_seed(0)
    sizes = [6] + [5] * hidden + [4]
    layers: list = []
    for i in range(len(sizes) - 1):
        layers += [Linear(sizes[i], sizes[i + 1], init="xavier"), Tanh()]
    return Sequential(*layers[:-1]).to(dtype=dtype)


def convnet(dtype: torch.dtype) -> Sequential:
    torch.manual_seed(0)
    return Sequential(
        Conv2d(2, 3, 3, padding=1),
        ReLU(),
        Conv2d(3, 4, 3, stride=2),
        ReLU(),
        Flatten(),
        Linear(4 * 3 * 3, 5),
    ).to(dtype=dtype)


def batch(model: Sequential, dtype: torch.dtype, n: int = 8):
    g = torch.Generator().manual_seed(1)
    shape = (n, 6) if isinstance(model[0], Linear) else (n, 2, 7, 7)
    x = torch.randn(shape, generator=g, dtype=dtype)
    return x, torch.randint(0, 4, (n,), generator=g)


def grads_of(model: Sequential, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """The model's gradients on (x, y) under cross-entropy, and dL/dx."""
    loss = CrossEntropyLoss()
    model.zero_grad()
    loss.forward(model.forward(x), y)
    dx = model.backward(loss.backward())
    return {k: g.clone() for k, g in model.grads.items()} | {"x": dx}


def attached(rule: FeedbackRule, model: Sequential) -> Sequential:
    rule.attach(model)
    return model


def stand_ins(model: Sequential) -> list[StandIn]:
    return [layer for layer in model.layers if isinstance(layer, StandIn)]


def assert_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("net", [mlp, convnet])
def test_fa_with_b_set_to_w_transposed_is_backprop_bit_for_bit(net, dtype):
    x, y = batch(net(dtype), dtype)
    expected = grads_of(net(dtype), x, y)
    model = attached(FeedbackAlignment(), net(dtype))
    rule = stand_ins(model)[0].rule
    assert isinstance(rule, FeedbackAlignment)
    for s in stand_ins(model):
        W = s.params["W"]
        rule.feedback[s.name] = W.t() if W.dim() == 2 else W  # a view: Wᵀ in Linear's layout
    assert_identical(grads_of(model, x, y), expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dfa_on_one_hidden_layer_with_b_set_to_w2_transposed_is_backprop(dtype):
    x, y = batch(mlp(dtype, hidden=1), dtype)
    expected = grads_of(mlp(dtype, hidden=1), x, y)
    rule = DirectFeedbackAlignment()
    model = attached(rule, mlp(dtype, hidden=1))
    last = stand_ins(model)[-1]
    rule.feedback[last.name] = last.params["W"].t()
    got = grads_of(model, x, y)
    del got["x"], expected["x"]  # dL/dx of the input itself is DFA's e B_0, by design
    assert_identical(got, expected)


@pytest.mark.parametrize("net", [mlp, convnet])
def test_usf_with_every_weight_plus_or_minus_s_is_backprop(net):
    s = 0.25
    base = net(torch.float64)
    for p in base.params.values():
        p.copy_(torch.where(torch.rand(p.shape, dtype=p.dtype) < 0.5, -s, s))
    x, y = batch(base, torch.float64)
    expected = grads_of(base, x, y)
    model = attached(UniformSignFeedback(scale=s), base)
    assert_identical(grads_of(model, x, y), expected)


@pytest.mark.parametrize("name", ["fa", "dfa", "usf", "brsf", "frsf"])
@pytest.mark.parametrize("net", [mlp, convnet])
def test_every_rule_leaves_the_last_layers_gradients_as_backprops_and_changes_the_rest(name, net):
    x, y = batch(net(torch.float64), torch.float64)
    expected = grads_of(net(torch.float64), x, y)
    got = grads_of(attached(RULES[name](generator=torch.Generator()), net(torch.float64)), x, y)
    last = str(len(net(torch.float64)) - 1)
    for k in (f"{last}.W", f"{last}.b"):
        assert torch.equal(got[k], expected[k]), k
    assert not torch.allclose(got["0.W"], expected["0.W"])


def _recipe(tmp_path: Path, rule: str, *extra: str):
    from tests.recipes.conftest import SYNTHETIC_RECIPE

    path = tmp_path / "spirals.yaml"
    path.write_text(SYNTHETIC_RECIPE)
    return load_recipe(str(path), [f"learning_rule.type={rule}", *extra])


@pytest.mark.parametrize("name", ["brsf", "frsf"])
def test_brsf_and_frsf_keep_the_signs_of_b_equal_to_the_signs_of_w_at_every_step(name, tmp_path):
    trainer = Trainer(_recipe(tmp_path, name, "checks.autograd=null", "optimizer.lr=1.0"))
    rule = trainer.learning_rule
    assert isinstance(rule, FeedbackRule)
    start = {k: p.clone() for k, p in trainer.model.params.items()}
    seen = []

    class Watch:
        from corebp.hookspecs import hookimpl

        @hookimpl
        def corebp_after_update(self, run):
            for s in stand_ins(run.model):
                B = rule.weights(s)
                assert torch.equal(B.sign(), s.params["W"].t().sign()), (run.step, s.name)
            seen.append(run.step)

    trainer.add_listener(Watch())
    trainer.train_epoch(0)
    assert len(seen) == trainer.steps_per_epoch
    assert any(  # signs did change, so the check followed W
        not torch.equal(p.sign(), start[k].sign()) for k, p in trainer.model.params.items()
    )


@pytest.mark.parametrize("name", ["backprop", "fa", "dfa", "usf", "brsf", "frsf"])
def test_the_initial_weights_do_not_depend_on_the_rule(name, tmp_path):
    base = Trainer(_recipe(tmp_path, "backprop"))
    other = Trainer(_recipe(tmp_path, name))
    for k, p in base.model.params.items():
        assert torch.equal(other.model.params[k], p), k


@pytest.mark.parametrize("name", ["fa", "dfa", "frsf", "brsf"])
def test_the_rules_feedback_survives_a_checkpoint_round_trip(name, tmp_path):
    trained = Trainer(_recipe(tmp_path, name, "checks.autograd=null"))
    trained.train_epoch(0)
    path = tmp_path / "checkpoint.pt"
    torch.save(checkpoint.capture(trained), path)
    saved = checkpoint.load(path)
    state = saved["learning_rule"]
    assert any(k.startswith("B.") for k in state) or name == "brsf"

    fresh = Trainer(_recipe(tmp_path, name, "checks.autograd=null"))
    checkpoint.restore(fresh, saved)
    restored = fresh.learning_rule.state_dict()
    assert restored.keys() == state.keys()
    for k in state:
        assert torch.equal(restored[k], state[k]), k
    # the same draws from here on: the next batch's feedback is the same in both
    rule, again = trained.learning_rule, fresh.learning_rule
    assert isinstance(rule, FeedbackRule) and isinstance(again, FeedbackRule)
    if name != "dfa":
        s0, s1 = stand_ins(trained.model)[-1], stand_ins(fresh.model)[-1]
        fresh.model.params[f"{s1.name}.W"].copy_(trained.model.params[f"{s0.name}.W"])
        assert torch.equal(rule.weights(s0), again.weights(s1))


def test_loading_a_state_without_a_generator_names_what_is_expected():
    with pytest.raises(ConfigError, match="state has no 'generator'"):
        FeedbackAlignment().load_state_dict({})


def test_a_rule_on_a_model_without_linear_or_conv_layers_is_refused():
    with pytest.raises(ConfigError, match="applies to linear and conv2d layers"):
        FeedbackAlignment().attach(Sequential(Tanh()))


def _zero_weights_accuracy(tmp_path: Path, rule: str) -> float:
    loaded = _recipe(
        tmp_path,
        rule,
        "checks.autograd=null",
        "model.1.type=tanh",
        "model.3.type=tanh",
        "optimizer.lr=0.03",
        "train.epochs=10",
        "data.args.kind=blobs",
    )
    trainer = Trainer(loaded)
    for p in trainer.model.params.values():
        p.zero_()
    return trainer.fit()["test_accuracy"]


def test_dfa_learns_from_all_zero_weights_in_a_tanh_mlp_where_backprop_stays_at_chance(tmp_path):
    backprop = _zero_weights_accuracy(tmp_path, "backprop")
    dfa = _zero_weights_accuracy(tmp_path, "dfa")
    assert backprop < 40  # three balanced classes (%): one class predicted for every point
    assert dfa > 80


def test_the_autograd_check_reports_a_rules_difference_as_declared(tmp_path):
    summary = Trainer(_recipe(tmp_path, "fa", "train.epochs=1")).fit()
    check = summary["autograd_check"]
    assert check["exact_gradient"] is False
    assert check["passed"] is False
    assert check["max_rel_error"] > 1e-3
    assert "exact_gradient=False" in check["note"]


@pytest.mark.parametrize("command", ["validate", "run"])
def test_the_torch_twin_is_refused_for_a_non_backprop_rule(command, tmp_path):
    from tests.recipes.conftest import SYNTHETIC_RECIPE

    path = tmp_path / "spirals.yaml"
    path.write_text(SYNTHETIC_RECIPE)
    out = tmp_path / "run"
    args = [command, str(path), "learning_rule.type=fa", "checks.autograd.twin=true"]
    if command == "run":
        args += ["--output-dir", str(out)]
    result = subprocess.run(
        [sys.executable, "-m", "corebp", *args], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2, result.stderr
    assert "checks.autograd.twin: learning_rule 'fa' does not follow the gradient" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("net", [mlp, convnet])
def test_frsf_uses_the_loaded_m_after_load_state_dict_even_after_training_with_its_own(net):
    x, y = batch(net(torch.float64), torch.float64)
    theirs = FixedRandomSignFeedback(generator=torch.Generator().manual_seed(1))
    expected = grads_of(attached(theirs, net(torch.float64)), x, y)
    rule = FixedRandomSignFeedback(generator=torch.Generator().manual_seed(2))
    model = attached(rule, net(torch.float64))
    assert not torch.equal(grads_of(model, x, y)["x"], expected["x"])  # its own M first
    rule.load_state_dict(theirs.state_dict())
    assert_identical(grads_of(model, x, y), expected)


class _Scale(Layer):
    """y = x ⊙ w, w: (features,): a layer the rules plugin does not know, naming w as the
    parameter whose place feedback takes."""

    feedback_param = "w"

    def __init__(self, features: int) -> None:
        super().__init__()
        self.add_param("w", torch.linspace(0.5, 2.0, features, dtype=torch.float64))

    def _forward(self, x):
        return x * self.params["w"], x

    def acc_grad_parameters(self, x, grad_output):
        self.grads["w"].add_((grad_output * x).sum(0))

    def update_grad_input(self, x, grad_output, params):
        return grad_output * params["w"]


def test_a_third_party_layer_that_names_its_feedback_parameter_gets_fa_feedback():
    model = Sequential(_Scale(4))
    rule = FeedbackAlignment(generator=torch.Generator().manual_seed(0))
    rule.attach(model)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 4, dtype=torch.float64, generator=gen)
    g = torch.randn(3, 4, dtype=torch.float64, generator=gen)
    model.forward(x)
    dx = model.backward(g)
    assert len(stand_ins(model)) == 1
    B = rule.feedback["0"]
    assert B.shape == (4,) and not torch.equal(B, model.params["0.w"])
    assert dx is not None and torch.equal(dx, g * B)  # B in w's place
    assert torch.equal(model.grads["0.w"], (g * x).sum(0))  # the layer's own update
    assert torch.equal(rule.feedback_weights()[0], B)
