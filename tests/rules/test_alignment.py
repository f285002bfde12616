"""checks.alignment: the angles between a rule's signals and backprop's (corebp.checks.alignment).
Zero where the rule is backprop or its feedback is Wᵀ, equal to a hand computation for DFA,
written as step rows of metrics.jsonl that survive a resume, and on real MNIST the FA hidden
layer's update turns towards the gradient (issue 11, acceptance 5)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from corebp_rules import DirectFeedbackAlignment, FeedbackAlignment

from corebp.checks.alignment import AlignmentCheck, ErrorTap, angle
from corebp.contracts.learning_rule import Backprop, LearningRule
from corebp.layers.sequential import Sequential
from corebp.losses import CrossEntropyLoss
from corebp.recipe import load_recipe
from corebp.training.distributed import problems
from corebp.training.run import resume_run, run_recipe
from corebp.training.trainer import Trainer
from tests.recipes.conftest import SYNTHETIC_RECIPE
from tests.recipes.test_resume import RECIPE as RESUMABLE
from tests.recipes.test_resume import stopped_run
from tests.rules.test_learning_rules import mlp


def batch(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """8 examples for `mlp`: 6 features, 4 classes."""
    g = torch.Generator().manual_seed(1)
    return torch.randn(8, 6, generator=g, dtype=dtype), torch.randint(0, 4, (8,), generator=g)


def measured(model: Sequential, rule: LearningRule, dtype=torch.float64):
    """The alignment check's angles on one batch, after the model's backward."""
    loss = CrossEntropyLoss()
    x, y = batch(dtype)
    check = AlignmentCheck(model, loss, rule, every=1)  # taps the layers, as in a run
    model.zero_grad()
    loss.forward(model.forward(x), y)
    model.backward(loss.backward(), False)
    return check.measure(x, y)


def test_angle_is_0_90_180_and_accurate_near_0():
    a = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    assert angle(a, 2 * a).item() == 0.0
    assert angle(a, -a).item() == pytest.approx(180)
    assert angle(a, torch.tensor([3.0, 0.0, -1.0], dtype=torch.float64)).item() == pytest.approx(90)
    tilted = torch.tensor([1.0, 1e-9], dtype=torch.float64)
    assert angle(torch.tensor([1.0, 0.0]), tilted).item() == pytest.approx(math.degrees(1e-9))
    assert math.isnan(angle(a, torch.zeros(3)).item())


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-9), (torch.float32, 0.05)])
def test_under_backprop_update_and_error_angles_are_zero(dtype, tol):
    angles = measured(mlp(dtype), Backprop(), dtype)
    assert list(angles) == ["0.W", "2.W", "4.W"]
    for layer, found in angles.items():
        assert found.keys() == {"update_vs_gradient", "error_vs_backprop"}, layer
        assert all(v is not None and v < tol for v in found.values()), (layer, found)


def test_under_fa_the_hidden_layers_angles_are_not_zero_and_the_last_layers_are():
    model, rule = mlp(torch.float64), FeedbackAlignment()
    rule.attach(model)
    angles = measured(model, rule)
    assert angles["0.W"]["update_vs_gradient"] > 1
    assert angles["2.W"]["error_vs_backprop"] > 1
    assert angles["4.W"]["update_vs_gradient"] < 1e-9  # the last layer's dW is backprop's
    assert 60 < angles["4.W"]["feedback_vs_weight"] < 120  # a random B: near orthogonal


def test_fa_with_b_set_to_w_transposed_gives_0_degrees_between_b_and_w():
    model, rule = mlp(torch.float64), FeedbackAlignment()
    rule.attach(model)
    for s in rule.stand_ins:
        rule.feedback[s.name] = s.params["W"].t()
    angles = measured(model, rule)
    assert "feedback_vs_weight" not in angles["0.W"]  # the first layer sends nothing down
    for layer in ("2.W", "4.W"):
        assert angles[layer]["feedback_vs_weight"] < 1e-9
    assert all(v < 1e-9 for found in angles.values() for v in found.values())


def test_dfa_error_angle_is_the_hand_computed_one():
    model, rule = mlp(torch.float64), DirectFeedbackAlignment()
    rule.attach(model)
    W0, W2, W4 = (model.params[f"{i}.W"].clone() for i in (0, 2, 4))
    angles = measured(model, rule)
    assert list(rule.feedback_weights()) == [4]  # only the last layer's B has W's shape

    x, y = batch(torch.float64)
    a0 = torch.tanh(x @ W0 + model.params["0.b"])
    a2 = torch.tanh(a0 @ W2 + model.params["2.b"])
    out = a2 @ W4 + model.params["4.b"]
    e = (out.softmax(1) - torch.nn.functional.one_hot(y, 4)) / len(y)  # dL/d out, mean CE
    true2 = (e @ W4.t()) * (1 - a2**2)  # backprop's dL/d(output of layer 0 and 2)
    true0 = (true2 @ W2.t()) * (1 - a0**2)
    delivered2 = (e @ rule.feedback["4"]) * (1 - a2**2)  # DFA: e through B_4, then tanh′
    delivered0 = (e @ rule.feedback["2"]) * (1 - a0**2)  # e straight through B_2
    assert angles["0.W"]["error_vs_backprop"] == pytest.approx(angle(delivered0, true0).item())
    assert angles["2.W"]["error_vs_backprop"] == pytest.approx(angle(delivered2, true2).item())
    assert angles["4.W"]["error_vs_backprop"] < 1e-9
    assert angles["4.W"]["feedback_vs_weight"] == pytest.approx(
        angle(rule.feedback["4"].t(), W4).item()
    )


def spirals(tmp_path: Path, *overrides: str):
    path = tmp_path / "spirals.yaml"
    path.write_text(SYNTHETIC_RECIPE)
    return load_recipe(str(path), ["learning_rule.type=fa", *overrides])


def test_the_check_is_not_built_and_the_model_untouched_without_checks_alignment(tmp_path):
    off = Trainer(spirals(tmp_path))
    assert not [p for p in off.events.get_plugins() if isinstance(p, AlignmentCheck)]
    assert not [layer for layer in off.model.layers if isinstance(layer, ErrorTap)]
    on = Trainer(spirals(tmp_path, "checks.alignment={every: 3}"))
    (check,) = [p for p in on.events.get_plugins() if isinstance(p, AlignmentCheck)]
    assert check.every == 3 and list(check.taps) == [0, 2]


def rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_run_writes_step_rows_between_its_epoch_rows_a_summary_and_alignment_png(tmp_path):
    run, summary = run_recipe(spirals(tmp_path, "checks.alignment={every: 5}"), tmp_path / "r")
    steps_per_epoch = summary["steps"] // summary["epochs"]
    written = rows(run)
    epochs = [r for r in written if "epoch" in r]
    steps = [r for r in written if "step" in r]
    assert [r["epoch"] for r in epochs] == [1, 2]
    assert [r["step"] for r in steps] == list(range(0, summary["steps"], 5))
    assert not [r for r in steps if "epoch" in r or "test_accuracy" in r]
    for r in epochs:  # each epoch row follows its own steps' rows
        before = written[: written.index(r)]
        assert max(s["step"] for s in before if "step" in s) < r["epoch"] * steps_per_epoch
    assert set(steps[0]["alignment"]) == {"0.W", "2.W"}
    assert set(steps[0]["alignment"]["2.W"]) == {
        "update_vs_gradient",
        "feedback_vs_weight",
        "error_vs_backprop",
    }
    found = summary["alignment"]
    assert found["every"] == 5 and found["steps_measured"] == len(steps)
    series = [r["alignment"]["0.W"]["update_vs_gradient"] for r in steps]
    stats = found["layers"]["0.W"]["update_vs_gradient"]
    mean = sum(series) / len(series)
    want = {"first": series[0], "last": series[-1], "min": min(series), "mean": mean}
    assert stats == pytest.approx(want)
    assert json.loads((run / "summary.json").read_text())["alignment"] == found
    assert (run / "alignment.png").stat().st_size > 0


def test_a_run_killed_mid_epoch_resumes_with_the_same_alignment_rows(tmp_path):
    recipe = tmp_path / "resumable.yaml"
    recipe.write_text(RESUMABLE)
    overrides = ["learning_rule.type=fa", "checks.alignment={every: 2}"]
    killed = stopped_run("KILL", 20, recipe, tmp_path / "killed", *overrides)  # epoch 2 of 3
    assert killed.returncode == -9, killed.stderr
    assert torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)["records"]
    resume_run(tmp_path / "killed")
    run_recipe(load_recipe(str(recipe), overrides), tmp_path / "whole")

    def timeless(run: Path) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows(run)]

    assert timeless(tmp_path / "killed") == timeless(tmp_path / "whole")
    assert len([r for r in rows(tmp_path / "whole") if "step" in r]) == 3 * 13 // 2 + 1


def test_a_data_parallel_run_refuses_checks_alignment_and_says_how_to_fix_it(tmp_path):
    recipe = spirals(tmp_path, "checks.alignment={every: 5}").recipe
    assert problems(recipe, 1) == []
    (message,) = problems(recipe, 2)
    assert message.startswith("checks.alignment: set, but this run is data-parallel over 2")
    assert "checks.alignment=null" in message


def test_on_mnist_the_fa_hidden_layers_update_turns_towards_the_gradient(tmp_path):
    """Acceptance 5: on mnist-mlp-fa the first (hidden) layer's update-vs-gradient angle
    drops below 90° and decreases over the first epoch; alignment.png is written. The epoch
    is of half the training images (the other half held out), to keep the test short."""
    overrides = ["train.epochs=1", "train.device=cpu", "data.validation_split=0.5"]
    overrides += ["checks.autograd=null", "checks.alignment={every: 25}", "output.progress=log"]
    run, summary = run_recipe(load_recipe("mnist-mlp-fa", overrides), tmp_path / "fa")
    series = [r["alignment"]["0.W"]["update_vs_gradient"] for r in rows(run) if "alignment" in r]
    assert summary["steps"] == 469 and len(series) == 19  # steps 0, 25, ..., 450
    first, last = sum(series[:4]) / 4, sum(series[-4:]) / 4
    assert max(series[-4:]) < 90 and last < first - 5, series
    assert summary["alignment"]["layers"]["0.W"]["update_vs_gradient"]["last"] < 90
    assert (run / "alignment.png").stat().st_size > 0
