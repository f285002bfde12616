"""Data-parallel training over 2 gloo ranks on CPU, launched by torchrun, against one process.

Each torchrun launch costs seconds, so there are four: the equivalence run (both losses, and
the rules kp, wm and drtp),
a whole `corebp run`, a killed rank, and `corebp run` itself as torchrun's module.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
from record_steps import record
from torchrun_launch import torchrun
from typer.testing import CliRunner

from corebp.cli.main import build
from tests.recipes.conftest import RUN_FILES

HERE = Path(__file__).parent
pytestmark = pytest.mark.usefixtures("single_process")

# 1585 training examples: 49 batches of 32 and a ragged 50th of 17 (9 + 8 over two ranks).
NOTEBOOK = [
    "train.dtype=float64",
    "train.device=cpu",
    f"data.validation_split={58415 / 60000!r}",
    "checks.autograd=null",
]
CASES = {
    # The notebook itself: 0.5·Σ(out − onehot)², std-1 weights (chaotic: see its header).
    "sum": NOTEBOOK,
    # A mean loss from small weights, a training that is not chaotic: final weights compared.
    "mean": [
        *NOTEBOOK,
        "loss.reduction=mean",
        "model.0.std=0.05",
        "model.2.std=0.3",
        "optimizer.lr=1.0",
    ],
}
# Rules that own tensors (kp's B, trained by the optimizer from the all-reduced dW), learn
# between updates (wm's mirrors, from the rule's generator on every rank) or read the target
# (drtp: each rank its shard's): with momentum, so kp's B has optimizer state of its own.
for _rule in ("kp", "wm", "drtp"):
    CASES[_rule] = [*CASES["mean"], f"learning_rule.type={_rule}", "optimizer.momentum=0.9"]


@pytest.mark.mnist
def test_two_ranks_give_one_process_gradients_every_step_sum_and_mean_ragged(tmp_path: Path):
    (tmp_path / "two").mkdir()
    (tmp_path / "one").mkdir()
    done = torchrun(
        str(HERE / "record_steps.py"),
        str(tmp_path / "two"),
        "mnist-784-100-10",
        json.dumps(CASES),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # One process, one thread as each rank has, summing each batch's two halves as the
    # all-reduce does: the same operations, so equality is what is expected (a bound on the
    # difference from a one-pass batch sum would depend on the data and on the trajectory,
    # which for the notebook's recipe is chaotic).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        record(tmp_path / "one", "mnist-784-100-10", CASES, shards=2)
    finally:
        torch.set_num_threads(threads)
    for case in CASES:
        two = torch.load(tmp_path / "two" / f"{case}.pt")
        one = torch.load(tmp_path / "one" / f"{case}.pt")
        assert len(one["grads"]) == len(two["grads"]) == 50, case
        assert one["grads"][0]["0.W"].dtype == torch.float64
        for step, (g1, g2) in enumerate(zip(one["grads"], two["grads"], strict=True)):
            for k in g1:
                assert torch.equal(g2[k], g1[k]), (case, step, k)
        for k, p in one["params"].items():
            assert torch.equal(two["params"][k], p), (case, k)


def test_a_two_rank_run_writes_one_complete_run_directory(spirals: Path, tmp_path: Path):
    done = torchrun("-m", "corebp", "run", "spirals.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("run directory:") == 1  # rank 0 alone prints
    assert done.stderr.count("epoch 2/2") == 1
    (run,) = (tmp_path / "runs").iterdir()
    assert {p.name for p in tmp_path.iterdir()} == {"spirals.yaml", "runs"}
    assert {p.name for p in run.iterdir()} == RUN_FILES
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["autograd_check"]["passed"]
    assert json.loads((run / "provenance.json").read_text())["processes"] == {
        "world_size": 2,
        "backend": "gloo",
    }
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and "test_accuracy" in rows[-1]
    assert set(torch.load(run / "checkpoint.pt", weights_only=True)["model"]) == {
        "0.W",
        "0.b",
        "2.W",
        "2.b",
    }
    for png in ("loss.png", "accuracy.png", "weights.png"):
        assert (run / png).read_bytes().startswith(b"\x89PNG")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_killed_rank_fails_the_run_within_60_s_naming_it(spirals: Path, tmp_path: Path):
    (tmp_path / "pids").mkdir()
    started = time.monotonic()
    done = torchrun(
        str(HERE / "kill_rank.py"),
        "run",
        "spirals.yaml",
        "train.epochs=50",
        "-o",
        "run",
        cwd=tmp_path,
        env={"PIDS": str(tmp_path / "pids"), "KILL_AT": "60"},
        timeout=120,
    )
    assert time.monotonic() - started < 60
    assert done.returncode != 0
    assert "rank      : 1" in done.stderr or "rank: 1" in done.stderr, done.stderr[-3000:]
    pids = [int(p.read_text()) for p in (tmp_path / "pids").iterdir()]
    assert len(pids) == 2 and not any(_alive(pid) for pid in pids)
    assert "run directory:" not in done.stdout
    summary = tmp_path / "run" / "summary.json"
    assert not summary.exists() or json.loads(summary.read_text())["status"] != "completed"


def test_train_distributed_without_torchrun_trains_in_one_process(spirals: Path, tmp_path: Path):
    result = CliRunner().invoke(build(), ["run", str(spirals), "-o", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    provenance = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert provenance["processes"] == {"world_size": 1}
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["steps"] == 2 * 38
