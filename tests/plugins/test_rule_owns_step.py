"""The learning-rule contract's `train_step` and `infer`: a rule that overrides them owns the
training step and the inference, and the loop, evaluation, `corebp eval`, `corebp predict` and
`corebp export` use them; a rule's stored gradients join the data-parallel buffer."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from corebp.inference.trained import open_run
from corebp.plugins import load_registry
from corebp.recipe import load_recipe
from corebp.training.trainer import Trainer

MakePlugin = Callable[[str, str], Path]  # the `make_plugin` fixture of conftest.py

RECIPE = """\
model:
  - {type: linear, in_features: 2, out_features: 8, init: xavier}
  - {type: sigmoid}
  - {type: linear, in_features: 8, out_features: 3, init: xavier}
loss: {type: cross_entropy}
optimizer: {type: sgd, lr: 1.0}
learning_rule: {type: RULE}
data: {source: synthetic, batch_size: 100, args: {kind: blobs, num_classes: 3}}
train: {epochs: 10, seed: 0, device: cpu, dtype: float64}
metrics: [loss, accuracy]
output: {progress: log, plots: false, checkpoint: true}
"""

# A rule per contract point: `default_step` overrides train_step with the base class's own
# (so it must equal backprop), `last_only` trains the last layer only, `flipped` predicts the
# class the model scores lowest.
RULES = """
    import corebp
    from corebp.contracts.learning_rule import LearningRule

    steps = []

    class DefaultStep(LearningRule):
        def train_step(self, model, loss, x, y):
            steps.append(x.shape[0])
            return super().train_step(model, loss, x, y)

    class LastOnly(LearningRule):
        exact_gradient = False

        def train_step(self, model, loss, x, y):
            out, value = super().train_step(model, loss, x, y)
            for name, g in model.grads.items():
                if not name.startswith("2."):
                    g.zero_()
            return out, value

    class Flipped(LearningRule):
        def infer(self, model, x):
            return -model.forward(x)

    @corebp.hookimpl
    def corebp_register_learning_rules():
        return {"default_step": DefaultStep, "last_only": LastOnly, "flipped": Flipped}
"""


@pytest.fixture
def rules(make_plugin: MakePlugin, fresh_registry: None) -> Path:
    return make_plugin("owned_steps", RULES)


def _trainer(tmp_path: Path, rule: str) -> Trainer:
    path = tmp_path / f"{rule}.yaml"
    path.write_text(RECIPE.replace("RULE", rule))
    return Trainer(load_recipe(str(path)), load_registry())


def train(tmp_path: Path, rule: str) -> Trainer:
    trainer = _trainer(tmp_path, rule)
    trainer.fit()
    return trainer


def test_a_rule_that_owns_the_step_is_called_in_place_of_the_loops_forward_and_backward(
    rules: Path, tmp_path: Path
) -> None:
    import corebp_test_owned_steps as plugin

    backprop = train(tmp_path, "backprop")
    owned = train(tmp_path, "default_step")  # the base class's train_step: the loop's own
    assert len(plugin.steps) == owned.step == backprop.step > 0
    for name, w in backprop.model.params.items():
        assert torch.equal(owned.model.params[name], w), name
    seconds = [{"seconds": row["seconds"]} for row in owned.history]
    assert owned.history == [row | s for row, s in zip(backprop.history, seconds, strict=True)]

    initial = {n: w.clone() for n, w in _trainer(tmp_path, "backprop").model.params.items()}
    last_only = train(tmp_path, "last_only")
    changed = {n for n, w in last_only.model.params.items() if not torch.equal(w, initial[n])}
    assert changed == {"2.W", "2.b"}


def test_evaluation_eval_and_predict_use_the_rules_inference_and_export_refuses_it(
    rules: Path, tmp_path: Path
) -> None:
    path = tmp_path / "flipped.yaml"
    path.write_text(RECIPE.replace("RULE", "flipped"))
    out = tmp_path / "runs"
    env = {"PYTHONPATH": f"{rules}:{':'.join(sys.path)}"}
    done = subprocess.run(
        [sys.executable, "-m", "corebp", "run", str(path), f"output.dir={out}"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    run_dir = out
    summary = json.loads((run_dir / "summary.json").read_text())

    # The training-time evaluation scored the flipped outputs, not the model's.
    trainer = train(tmp_path, "flipped")
    x, y = next(iter(trainer.data.batches("test", 10_000)))
    out = trainer.model.forward(x)
    flipped, plain = ((s * out).argmax(1).eq(y).double().mean().item() * 100 for s in (-1, 1))
    assert summary["test_accuracy"] == pytest.approx(flipped, abs=1e-9)
    assert abs(flipped - plain) > 50

    run = open_run(run_dir, reg=load_registry())
    model = run.model("cpu", load_registry())
    assert torch.equal(run.infer(model, load_registry())(x), -model.forward(x))

    evaluated = subprocess.run(
        [sys.executable, "-m", "corebp", "eval", str(run_dir), "--json"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["metrics"]["test_accuracy"] == summary["test_accuracy"]

    exported = subprocess.run(
        [sys.executable, "-m", "corebp", "export", str(run_dir)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert exported.returncode == 2
    assert "learning_rule 'flipped'" in exported.stderr
    assert "the exported model alone would not give them" in exported.stderr
    assert "corebp eval" in exported.stderr and "Traceback" not in exported.stderr
    assert not list(run_dir.glob("model*"))
