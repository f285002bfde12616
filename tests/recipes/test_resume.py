"""Checkpoints, `corebp resume` and signals: a stopped run continues exactly (acceptance 1, 2)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from corebp.errors import ConfigError, DataError
from corebp.recipe import load_recipe
from corebp.training.run import resume_run, run_recipe

# Momentum, a step schedule that changes lr mid-run, a seeded Dropout (its own generator),
# an unseeded one (torch's global generator) and shuffling: every piece of state matters.
RECIPE = """\
model:
  - {type: linear, in_features: 2, out_features: 16, init: xavier}
  - {type: relu}
  - {type: dropout, p: 0.2, seed: 1}
  - {type: linear, in_features: 16, out_features: 16, init: xavier}
  - {type: tanh}
  - {type: dropout, p: 0.1}
  - {type: linear, in_features: 16, out_features: 3, init: xavier}
loss: {type: cross_entropy}
optimizer: {type: sgd, lr: 0.1, momentum: 0.9}
schedule: {type: step, step_size: 1, gamma: 0.5}
data: {source: synthetic, batch_size: 16, args: {kind: spirals, num_classes: 3, train_size: 200}}
train: {epochs: 3, seed: 0, device: cpu}
metrics: [loss, accuracy]
output: {progress: log, plots: false, checkpoint_every: 3}
"""
STEPS = 3 * 13  # 3 epochs of ceil(200 / 16) updates
# With buffers: BatchNorm1d's running_mean, running_var and num_batches_tracked.
BN_RECIPE = RECIPE.replace(
    "  - {type: relu}\n", "  - {type: batch_norm1d, num_features: 16}\n  - {type: relu}\n", 1
)
STOP = Path(__file__).with_name("stop_at_step.py")


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "resumable.yaml"
    path.write_text(RECIPE)
    return path


def stopped_run(signal: str, step: int, recipe: Path, out: Path, *overrides: str):
    """`corebp run` in a subprocess, sent `signal` right after update `step`."""
    command = [sys.executable, str(STOP), signal, str(step), "run", str(recipe), "-o", str(out)]
    return subprocess.run(
        [*command, *overrides], capture_output=True, text=True, timeout=300, check=False
    )


def assert_same_run(resumed: Path, uninterrupted: Path) -> None:
    """Bit-identical parameters and optimizer state; the same metrics.jsonl apart from timings."""
    a = torch.load(resumed / "checkpoint.pt", weights_only=True)
    b = torch.load(uninterrupted / "checkpoint.pt", weights_only=True)
    assert a["step"] == b["step"] == STEPS
    for name, p in b["model"].items():
        assert torch.equal(a["model"][name], p), name
    assert a["buffers"].keys() == b["buffers"].keys()
    for name, t in b["buffers"].items():
        assert torch.equal(a["buffers"][name], t), name
    assert a["optimizer"]["lr"] == b["optimizer"]["lr"]
    for name, buffers in b["optimizer"]["state"].items():
        for key, t in buffers.items():
            assert torch.equal(a["optimizer"]["state"][name][key], t), (name, key)

    def rows(run: Path) -> list[dict]:
        lines = (run / "metrics.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]

    assert rows(resumed) == rows(uninterrupted) and len(rows(resumed)) == 3
    assert json.loads((resumed / "summary.json").read_text())["status"] == "completed"


def assert_rule_resumes_exactly(recipe: Path, tmp_path: Path) -> dict[str, torch.Tensor]:
    """Stop a run of `recipe` by SIGINT after update 17, resume it, and check it against the
    uninterrupted run: `assert_same_run`, and the learning rule's checkpointed tensors equal
    key for key. Returns the rule's checkpointed state."""
    out = tmp_path / "stopped"
    assert stopped_run("INT", 17, recipe, out).returncode == 130
    resume_run(out)
    run_recipe(load_recipe(str(recipe)), tmp_path / "whole")
    assert_same_run(out, tmp_path / "whole")
    a = torch.load(out / "checkpoint.pt", weights_only=True)["learning_rule"]
    b = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=True)["learning_rule"]
    assert a.keys() == b.keys()
    for key, t in b.items():
        assert torch.equal(a[key], t), key
    return b


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_run_killed_at_a_random_step_resumes_bit_identical(dtype, recipe, tmp_path):
    step = random.randrange(3, STEPS - 1)  # after the first checkpoint, at update 3
    killed = stopped_run("KILL", step, recipe, tmp_path / "killed", f"train.dtype={dtype}")
    assert killed.returncode == -9, (step, killed.stderr)
    status = json.loads((tmp_path / "killed" / "summary.json").read_text())["status"]
    assert status == "running"  # a kill leaves no chance to say more; resume tells

    run_recipe(load_recipe(str(recipe), [f"train.dtype={dtype}"]), tmp_path / "whole")
    before = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)
    # The last checkpoint: every 3 updates and at the end of each epoch of 13.
    assert before["step"] == max(step // 3 * 3, step // 13 * 13), step
    resume_run(tmp_path / "killed")
    assert_same_run(tmp_path / "killed", tmp_path / "whole")


@pytest.mark.parametrize("text", [RECIPE, BN_RECIPE], ids=["plain", "batchnorm"])
def test_a_run_resumed_from_an_epoch_end_checkpoint_draws_the_next_epochs_shuffle(text, tmp_path):
    """Killed after update 14, the run's last checkpoint is epoch 1's end (update 13): the
    resumed epoch 2 must shuffle as the uninterrupted run's does, not repeat epoch 1's order."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text(text)
    assert stopped_run("KILL", 14, recipe, tmp_path / "killed").returncode == -9
    before = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)
    assert (before["step"], before["position"]) == (13, 0)
    run_recipe(load_recipe(str(recipe)), tmp_path / "whole")
    resume_run(tmp_path / "killed")
    assert_same_run(tmp_path / "killed", tmp_path / "whole")


def test_a_batchnorm_run_killed_mid_epoch_resumes_with_bit_identical_running_statistics(
    tmp_path,
):
    recipe = tmp_path / "bn.yaml"
    recipe.write_text(BN_RECIPE)
    step = random.choice([s for s in range(3, STEPS - 1) if s % 13 not in (0, 12)])  # mid-epoch
    killed = stopped_run("KILL", step, recipe, tmp_path / "killed")
    assert killed.returncode == -9, (step, killed.stderr)
    run_recipe(load_recipe(str(recipe)), tmp_path / "whole")
    resume_run(tmp_path / "killed")
    assert_same_run(tmp_path / "killed", tmp_path / "whole")
    buffers = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=True)["buffers"]
    assert {k.split(".", 1)[1] for k in buffers} == {
        "running_mean",
        "running_var",
        "num_batches_tracked",
    }
    assert buffers["1.num_batches_tracked"].item() == STEPS


def test_sigint_stops_after_the_step_names_the_resume_command_and_resumes_exactly(recipe, tmp_path):
    out = tmp_path / "stopped"
    stopped = stopped_run("INT", 17, recipe, out)  # mid-epoch: epoch 2 has 13..25
    assert stopped.returncode == 130
    last = stopped.stderr.strip().splitlines()[-1]
    assert last == (
        f"corebp: stopped by SIGINT after step 18; checkpoint {out}/checkpoint.pt written; "
        f"continue with: corebp resume {out}"
    )
    assert "Traceback" not in stopped.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["resume"] == f"corebp resume {out}"
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert (state["step"], state["epoch"], state["position"]) == (18, 1, 5)

    resumed = subprocess.run(
        [sys.executable, "-m", "corebp", "resume", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"run directory: {out}" in resumed.stdout
    run_recipe(load_recipe(str(recipe)), tmp_path / "whole")
    assert_same_run(out, tmp_path / "whole")


def test_resume_says_from_which_step_and_epoch_it_continues(recipe, tmp_path, corebp_cli):
    out = tmp_path / "killed"
    assert stopped_run("KILL", 17, recipe, out).returncode == -9  # last checkpoint: update 15
    code, _, err = corebp_cli("resume", str(out), "output.progress=log")
    assert code == 0, err
    assert err.splitlines()[0] == (
        f"resuming {out} from step 15 of 39 (epoch 2 of 3, 2 of its 13 steps done)"
    )
    code, _, err = corebp_cli("resume", str(out), "train.epochs=4")
    assert err.splitlines()[0] == f"resuming {out} from step 39 of 52 (the start of epoch 4 of 4)"


def test_a_second_sigint_stops_at_once_keeping_the_last_checkpoint(recipe, tmp_path):
    out = tmp_path / "stopped"
    stopped = stopped_run("INT,INT", 17, recipe, out)  # the second arrives within step 18
    assert stopped.returncode == 130
    assert "Traceback" not in stopped.stderr
    assert stopped.stderr.strip().splitlines()[-1] == (
        "corebp: stopped at once by a second SIGINT; the last checkpoint stays; "
        f"continue with: corebp resume {out}"
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and "second SIGINT" in summary["error"]
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 15  # every 3 updates
    resume_run(out)
    run_recipe(load_recipe(str(recipe)), tmp_path / "whole")
    assert_same_run(out, tmp_path / "whole")


def test_sigterm_exits_143_with_a_checkpoint(recipe, tmp_path):
    stopped = stopped_run("TERM", 12, recipe, tmp_path / "run")  # the last step of epoch 1
    assert stopped.returncode == 143
    assert "stopped by SIGTERM after step 13" in stopped.stderr.splitlines()[-1]
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert (state["step"], state["position"]) == (13, 13)


def test_resume_extends_epochs_and_refuses_any_other_change_naming_the_key(recipe, tmp_path):
    run_recipe(load_recipe(str(recipe), ["train.epochs=1"]), tmp_path / "run")
    with pytest.raises(ConfigError, match=r"optimizer\.momentum: cannot change when resuming"):
        resume_run(tmp_path / "run", ["train.epochs=2", "optimizer.momentum=0.5"])
    with pytest.raises(ConfigError, match=r"model\.2\.p: cannot change"):
        resume_run(tmp_path / "run", ["model.2.p=0.3"])
    _, summary = resume_run(tmp_path / "run", ["train.epochs=2", "output.progress=log"])
    assert summary["epochs"] == 2 and summary["steps"] == 26
    assert "epochs: 2" in (tmp_path / "run" / "recipe.yaml").read_text()
    with pytest.raises(ConfigError, match=r"train\.epochs=1: the run has already completed 2"):
        resume_run(tmp_path / "run", ["train.epochs=1"])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: None, "does not exist or is not a folder"),
        (lambda d: d.mkdir(), "recipe.yaml: missing"),
    ],
)
def test_resume_of_something_that_is_not_a_run_names_the_path(make, message, tmp_path):
    make(tmp_path / "nothing")
    with pytest.raises(ConfigError, match=message):
        resume_run(tmp_path / "nothing")


def test_a_run_without_a_checkpoint_cannot_be_resumed_and_says_so(recipe, tmp_path):
    run_recipe(load_recipe(str(recipe), ["train.epochs=1"]), tmp_path / "run")
    (tmp_path / "run" / "checkpoint.pt").unlink()
    with pytest.raises(ConfigError, match="stopped before its first checkpoint"):
        resume_run(tmp_path / "run")


def test_a_corrupt_checkpoint_is_refused_without_unpickling(recipe, tmp_path):
    run_recipe(load_recipe(str(recipe), ["train.epochs=1"]), tmp_path / "run")
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"\x80\x04not a checkpoint")
    with pytest.raises(DataError, match=r"checkpoint\.pt: damaged, or not a corebp checkpoint"):
        resume_run(tmp_path / "run", ["train.epochs=2"])


@pytest.mark.parametrize("rule", ["fa", "brsf", "kp", "wm", "drtp"])
def test_resume_restores_the_learning_rule_exactly(rule, tmp_path):
    # brsf draws fresh signs every batch: a resumed run without the rule's generator state
    # would draw the first batches' signs again and end on other weights. kp's B is trained
    # by the optimizer (its momentum buffers are in the optimizer's state, compared by
    # assert_same_run); wm's B learns between updates from noise the generator draws.
    path = tmp_path / "rule.yaml"
    path.write_text(RECIPE + f"learning_rule: {{type: {rule}}}\n")
    state = assert_rule_resumes_exactly(path, tmp_path)
    assert any(k.startswith("B.") for k in state) == (rule != "brsf")


def test_the_part_file_a_killed_write_left_is_gone_after_the_resume(recipe, tmp_path):
    # reliability II, class 8: a SIGKILL during write_atomic leaves ".<name>.<hex>.part"
    run_recipe(load_recipe(str(recipe), ["train.epochs=1"]), tmp_path / "run")
    stale = tmp_path / "run" / ".checkpoint.pt.0123456789abcdef.part"
    stale.write_bytes(b"half a checkpoint")
    other = tmp_path / "run" / ".notes.part"  # not a name corebp writes: kept
    other.write_text("mine")
    resume_run(tmp_path / "run", ["train.epochs=2"])
    assert not stale.exists() and other.read_text() == "mine"
