"""Training-event hooks: each is called when docs/plugins.md says, what a hook changes is what
training uses, run listeners (the torch twin among them) attach per run, and a hook that
raises is reported by plugin, distribution and hook."""

from __future__ import annotations

import ast
import functools
import gc
import inspect
import json
import os
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import corebp.hookspecs
from corebp.contracts.run import TrainingRun
from corebp.errors import PluginError
from corebp.plugins import HOOKS, load_registry
from corebp.recipe import load_recipe
from corebp.training.trainer import Trainer
from corebp.training.view import RunView

MakePlugin = Callable[[str, str], Path]  # the `make_plugin` fixture of conftest.py

RECIPE = """\
model:
  - {type: linear, in_features: 2, out_features: 8, init: xavier}
  - {type: sigmoid}
  - {type: linear, in_features: 8, out_features: 3, init: xavier}
loss: {type: cross_entropy}
optimizer: {type: sgd, lr: 0.1}
data: {source: synthetic, batch_size: 100, args: {kind: blobs, num_classes: 3}}
train: {epochs: 2, seed: 0, device: cpu}
metrics: [loss, accuracy]
output: {progress: log, plots: false, checkpoint: false}
"""

RECORDER = """
    import corebp

    calls = []

    @corebp.hookimpl
    def corebp_run_start(run):
        calls.append(("run_start", run.step))

    @corebp.hookimpl
    def corebp_epoch_start(run, epoch):
        calls.append(("epoch_start", epoch))

    @corebp.hookimpl
    def corebp_after_backward(run, x, y):
        assert all(g.abs().sum() > 0 for g in run.model.grads.values())
        calls.append(("after_backward", run.step, x.shape[0], y.shape[0]))

    @corebp.hookimpl
    def corebp_after_update(run):
        calls.append(("after_update", run.step))

    @corebp.hookimpl
    def corebp_epoch_end(run, epoch, metrics):
        calls.append(("epoch_end", epoch, sorted(metrics)))
        metrics["recorded"] = True

    @corebp.hookimpl
    def corebp_run_end(run, summary):
        calls.append(("run_end", run.step))
        summary["recorded"] = len(calls)
"""


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "blobs.yaml"
    path.write_text(RECIPE)
    return path


def _trainer(recipe: Path, *overrides: str) -> Trainer:
    reg = load_registry()
    return Trainer(load_recipe(str(recipe), list(overrides), reg=reg), reg)


def test_every_training_event_hook_is_called_when_documented(make_plugin: MakePlugin, recipe):
    make_plugin("recorder", RECORDER)
    trainer = _trainer(recipe)
    steps = trainer.steps_per_epoch
    summary = trainer.fit()

    import corebp_test_recorder

    n = trainer.data.num_examples("train")
    sizes = [min(100, n - i * 100) for i in range(steps)]
    expected: list[tuple] = [("run_start", 0)]
    for epoch in range(2):
        expected.append(("epoch_start", epoch))
        for i, size in enumerate(sizes):
            step = epoch * steps + i
            expected += [("after_backward", step, size, size), ("after_update", step)]
        columns = sorted(k for k in trainer.history[epoch] if k != "recorded")
        expected.append(("epoch_end", epoch, columns))
    expected.append(("run_end", 2 * steps))
    assert corebp_test_recorder.calls == expected
    assert trainer.history[0]["recorded"] is True
    assert summary["recorded"] == len(expected)


def test_what_the_per_step_hooks_change_is_what_training_uses(make_plugin, recipe):
    make_plugin(
        "freeze",
        """
        import corebp

        @corebp.hookimpl
        def corebp_after_backward(run):
            for g in run.model.grads.values():
                g.zero_()
        """,
    )
    trainer = _trainer(recipe)
    before = {k: p.clone() for k, p in trainer.model.params.items()}
    trainer.fit()
    for k, p in trainer.model.params.items():
        assert torch.equal(p, before[k]), f"{k} moved although its gradient was zeroed"

    make_plugin(
        "project",
        """
        import corebp

        @corebp.hookimpl
        def corebp_after_update(run):
            for p in run.model.params.values():
                p.clamp_(-0.01, 0.01)
        """,
    )
    trainer = _trainer(recipe)
    trainer.fit()
    assert max(p.abs().max().item() for p in trainer.model.params.values()) <= 0.01


def test_a_hook_no_plugin_implements_is_not_called_in_the_loop(recipe):
    trainer = _trainer(recipe)
    assert not {"corebp_after_backward", "corebp_after_update"} & set(trainer._hooks)
    checked = _trainer(recipe, "checks.autograd={every: 1}")
    assert "corebp_after_backward" in checked._hooks  # the check listens to this run only


def test_a_plugin_optimizer_declaring_its_torch_counterpart_gets_a_twin(make_plugin, recipe):
    make_plugin(
        "heavyball",
        """
        import torch
        import corebp
        from corebp_optim import SGD

        class HeavyBall(SGD):
            torch_counterpart = torch.optim.SGD

            def __init__(self, params, grads, lr=0.1, beta=0.9):
                super().__init__(params, grads, lr, momentum=beta)

            @classmethod
            def torch_arguments(cls, args):
                return {"momentum": args.get("beta", 0.9)}

        @corebp.hookimpl
        def corebp_register_optimizers():
            return {"heavy_ball": HeavyBall}
        """,
    )
    trainer = _trainer(
        recipe, "optimizer={type: heavy_ball, lr: 0.1, beta: 0.8}", "checks.autograd.twin=true"
    )
    summary = trainer.fit()
    twin = summary["torch_twin"]
    assert twin["max_parameter_difference"] < 1e-5
    assert twin["test_accuracy"] == pytest.approx(summary["test_accuracy"], abs=1.0)
    assert twin["test_loss"] == pytest.approx(summary["test_loss"], rel=1e-3)
    assert trainer.events.get_plugin("core/AutogradCheck/0").twin.optimizer.defaults[
        "momentum"
    ] == pytest.approx(0.8)


RAISER = """
    import corebp

    @corebp.hookimpl
    def corebp_epoch_end(metrics):
        raise KeyError("no column 'val_loss'")
"""


def test_a_raising_hook_is_one_error_naming_plugin_distribution_and_hook(make_plugin, recipe):
    make_plugin("raiser", RAISER)
    with pytest.raises(PluginError) as caught:
        _trainer(recipe).fit()
    message = str(caught.value)
    assert message.startswith(
        "plugin 'raiser' from corebp-test-raiser (corebp_test_raiser) failed in hook "
        "corebp_epoch_end: KeyError: \"no column 'val_loss'\""
    )
    assert "--debug" in message


def test_a_raising_listener_is_named_by_the_plugin_that_attached_it(make_plugin, recipe):
    make_plugin(
        "listens",
        """
        import corebp

        class Listener:
            @corebp.hookimpl
            def corebp_after_update(self, run):
                1 / 0

        @corebp.hookimpl
        def corebp_run_listeners(run):
            return [Listener()]
        """,
    )
    with pytest.raises(
        PluginError,
        match=r"^plugin 'listens' from corebp-test-listens \(corebp_test_listens\) failed in "
        r"hook corebp_after_update: ZeroDivisionError: division by zero",
    ):
        _trainer(recipe).fit()


def test_the_command_reports_a_raising_hook_in_one_line_and_the_run_says_it_failed(
    make_plugin, recipe, tmp_path
):
    folder = make_plugin("raiser", RAISER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), *sys.path])}
    out = tmp_path / "run"
    args = [sys.executable, "-m", "corebp", "run", str(recipe), "-o", str(out)]
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("corebp: error:")]
    assert len(errors) == 1 and "plugin 'raiser' from corebp-test-raiser" in errors[0]
    assert "Traceback" not in proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed"
    assert "failed in hook corebp_epoch_end: KeyError" in summary["error"]
    assert summary["epochs"] == 0 and summary["steps"] > 0

    debug = subprocess.run(
        [*args[:3], "--debug", *args[3:5], "-o", str(tmp_path / "again")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert debug.returncode == 2 and "Traceback" in debug.stderr
    assert 'raise KeyError("no column' in debug.stderr


def test_hookspecs_give_plugins_a_training_run_not_the_trainer():
    tree = ast.parse(Path(corebp.hookspecs.__file__).read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "corebp.training.trainer" not in imported
    specs = {name: getattr(corebp.hookspecs, name) for name in HOOKS}
    hooks = sorted(n for n, f in specs.items() if "run" in inspect.signature(f).parameters)
    assert hooks == sorted(
        [
            "corebp_run_listeners",
            "corebp_run_start",
            "corebp_run_end",
            "corebp_epoch_start",
            "corebp_epoch_end",
            "corebp_after_backward",
            "corebp_after_update",
            "corebp_step_end",
        ]
    )
    for name in hooks:  # the annotation names the protocol itself, not some other class
        annotation = eval(specs[name].__annotations__["run"], vars(corebp.hookspecs))
        assert annotation is TrainingRun, name
    # and what hooks receive has every member the protocol documents
    members = {n for n in vars(TrainingRun) if not n.startswith("_")}
    assert members and all(hasattr(RunView, n) for n in members), members


def _reachable(root: object) -> list[object]:
    """Every object reachable from `root` through instances' attributes and slots and the
    containers they hold (not through functions, classes or modules, which reach the world)."""
    seen: dict[int, object] = {}
    todo = [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, (type, types.ModuleType, types.FunctionType)):
            continue
        seen[id(obj)] = obj
        if isinstance(obj, dict):
            todo.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            todo.extend(obj)
        elif isinstance(obj, functools.partial):
            todo.extend([obj.func, *obj.args, *obj.keywords.values()])
        elif not isinstance(obj, (torch.Tensor, torch.Generator, str, bytes, int, float)):
            todo.extend(gc.get_referents(obj))
    return list(seen.values())


def test_hooks_receive_a_run_view_that_cannot_reach_the_trainer(recipe):
    trainer = _trainer(recipe)
    seen: list[object] = []

    class Listener:
        @corebp.hookimpl
        def corebp_after_update(self, run):
            seen.append(run)

        @corebp.hookimpl
        def corebp_epoch_end(self, run, epoch, metrics):
            seen.append(run)

    trainer.add_listener(Listener())
    trainer.fit()
    assert seen and all(type(run) is RunView for run in seen)
    run = seen[0]
    assert run.model is trainer.model and run.step == trainer.step
    assert not hasattr(run, "__dict__")  # slots: a plugin cannot hang state on it either
    for private in ("_hooks", "events", "check_finite", "_pause", "progress", "fit"):
        assert not hasattr(run, private), private
    found = _reachable(run)
    assert any(obj is trainer.model for obj in found)  # the walk does reach the parts
    assert not any(isinstance(obj, Trainer) for obj in found)
