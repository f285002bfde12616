"""The Trainer keeps the loop and nothing else: the schedule, the divergence guard, the
progress display and checkpoints are listeners of the run's hooks, and the resumable state
is `Trainer.state_dict()` / `load_state_dict()`, which checkpoint.py uses and nothing else."""

from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path

import pytest
import torch

import corebp
from corebp.errors import Diverged
from corebp.recipe import load_recipe
from corebp.training import checkpoint
from corebp.training.listeners import Checkpoints, Guard, LearningRateSchedule
from corebp.training.progress import EpochLines, ProgressBar
from corebp.training.run import run_recipe
from corebp.training.rundir import RunDir
from corebp.training.trainer import Trainer


def _trainer(recipe: Path, *overrides: str) -> Trainer:
    return Trainer(load_recipe(str(recipe), ["checks.autograd=null", *overrides]))


def test_the_schedule_guard_and_progress_are_listeners_of_the_run(synthetic_recipe: Path):
    trainer = _trainer(synthetic_recipe, "schedule={type: cosine}")
    listeners = dict(trainer.events.list_name_plugin())
    assert isinstance(listeners["core/schedule"], LearningRateSchedule)
    assert isinstance(listeners["core/guard"], Guard) and listeners["core/guard"] is trainer.guard
    assert type(listeners["core/progress"]) is EpochLines
    assert "core/schedule" not in dict(_trainer(synthetic_recipe).events.list_name_plugin())


def test_without_its_schedule_listener_the_loop_keeps_the_base_rate(synthetic_recipe: Path):
    trainer = _trainer(synthetic_recipe, "schedule={type: cosine}", "optimizer.lr=0.5")
    optimizer, step = trainer.optimizer, trainer.optimizer.step
    used = []
    optimizer.step = lambda: (used.append(optimizer.lr), step())[1]  # type: ignore[method-assign]
    assert isinstance(trainer.remove_listener("core/schedule"), LearningRateSchedule)
    trainer.fit()
    assert used == [0.5] * trainer.total_steps


def test_the_divergence_guard_is_the_listener_that_stops_a_non_finite_run(synthetic_recipe):
    diverging = ["model=[{type: linear, in_features: 2, out_features: 3}]", "optimizer.lr=1e15"]
    with pytest.raises(Diverged):
        _trainer(synthetic_recipe, *diverging).fit()
    trainer = _trainer(synthetic_recipe, *diverging)
    trainer.remove_listener("core/guard")
    trainer.fit()  # nothing else in the loop looks at the loss
    assert not torch.isfinite(torch.tensor(trainer.history[-1]["train_loss"]))


def test_a_listener_can_stop_the_run_after_any_step(synthetic_recipe: Path):
    class StopAt:
        @corebp.hookimpl
        def corebp_step_end(self, run, loss):
            assert loss.dim() == 0
            if run.step == 7:
                raise KeyboardInterrupt

    trainer = _trainer(synthetic_recipe)
    trainer.add_listener(StopAt())
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    assert trainer.step == 7 and trainer.optimizer.steps == 7


def test_the_state_dict_continues_a_run_exactly(synthetic_recipe: Path):
    whole = _trainer(synthetic_recipe, "train.epochs=2")
    whole.fit()

    first = _trainer(synthetic_recipe, "train.epochs=1")
    first.fit()
    state = first.state_dict()
    rest = _trainer(synthetic_recipe, "train.epochs=2")
    rest.load_state_dict(state)
    rest.fit()
    assert rest.step == whole.step
    assert _without_seconds(rest.history) == _without_seconds(whole.history)
    for name, p in whole.model.params.items():
        assert torch.equal(rest.model.params[name], p), name


def _without_seconds(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_checkpoint_writes_and_reads_only_the_trainers_state_dict(
    synthetic_recipe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    trainer = _trainer(synthetic_recipe)
    trainer.fit()
    captured = checkpoint.capture(trainer)
    expected = trainer.state_dict()
    assert captured.keys() == {"format"} | expected.keys()
    assert captured["history"] == expected["history"] and captured["step"] == expected["step"]

    loaded = []
    monkeypatch.setattr(Trainer, "load_state_dict", lambda self, state: loaded.append(state))
    fresh = _trainer(synthetic_recipe)
    checkpoint.restore(fresh, captured)
    assert loaded == [captured] and fresh.step == 0  # nothing set from outside

    # and checkpoint.py assigns no attribute of anything it is given
    tree = ast.parse(inspect.getsource(checkpoint))
    targets = [
        t
        for node in ast.walk(tree)
        if isinstance(node, (ast.Assign, ast.AugAssign))
        for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
    ]
    assert not [t for t in targets if isinstance(t, ast.Attribute)]


def test_a_run_checkpoints_through_its_checkpoints_listener(synthetic_recipe: Path, tmp_path):
    saved = []
    original = Checkpoints.__init__

    def spying(self, guard, every, save):
        original(self, guard, every, lambda: (saved.append(guard is not None), save())[1])

    with pytest.MonkeyPatch.context() as m:
        m.setattr(Checkpoints, "__init__", spying)
        loaded = load_recipe(
            str(synthetic_recipe), ["checks.autograd=null", "output.checkpoint_every=5"]
        )
        run_recipe(loaded, tmp_path / "run", progress="log")
    steps = 2 * 38  # 2 epochs of ceil(600 / 16) updates
    assert len(saved) == steps // 5 + 2  # every 5 updates, and after each of the 2 epochs
    state = checkpoint.load(tmp_path / "run" / "checkpoint.pt")
    assert state["step"] == steps and state["epoch"] == 2


def test_on_a_terminal_the_progress_bar_is_drawn_through_each_epoch(
    synthetic_recipe: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # what `auto` looks at
    trainer = _trainer(synthetic_recipe, "output.progress=auto")
    bar = dict(trainer.events.list_name_plugin())["core/progress"]
    assert type(bar) is ProgressBar
    monkeypatch.setattr(bar, "refresh_seconds", 0.0)
    shown: list[dict[str, float]] = []
    live = bar.live
    monkeypatch.setattr(bar, "live", lambda: (shown.append(live()), shown[-1])[1])
    trainer.fit()
    err = capsys.readouterr().err
    steps = trainer.steps_per_epoch
    assert "epoch 1/2" in err and f"0/{steps}" in err  # the bar, drawn when each epoch starts
    assert len(shown) == 2 * (steps // ProgressBar.CHECK_EVERY)  # live metrics, read rarely
    assert set(shown[0]) == {"loss", "accuracy"}
    lines = [line for line in err.splitlines() if " | train_loss " in line]
    assert [line.split(" | ")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]


def test_after_each_epoch_the_metrics_are_written_before_the_checkpoint(
    synthetic_recipe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # a resume from that checkpoint then finds metrics.jsonl holding the same epochs
    order: list[str] = []
    for method in ("jsonl", "checkpoint"):
        original = getattr(RunDir, method)

        def spy(self, name, *args, __original=original):
            order.append(name)
            return __original(self, name, *args)

        monkeypatch.setattr(RunDir, method, spy)
    loaded = load_recipe(str(synthetic_recipe), ["checks.autograd=null"])
    run_recipe(loaded, tmp_path / "run", progress="log")
    assert order == ["metrics.jsonl", "checkpoint.pt"] * 2
