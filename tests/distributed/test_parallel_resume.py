"""A data-parallel run stopped on one rank stops on every rank at an agreed update, and
`torchrun ... -m corebp resume` continues it to the same weights as an uninterrupted run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torchrun_launch import SPIRALS, torchrun

HERE = Path(__file__).parent
pytestmark = pytest.mark.usefixtures("single_process")

# SPIRALS with a seeded Dropout (its own generator) and an unseeded one (torch's global
# generator): each rank's random streams must come back as its own.
DROPOUT = SPIRALS.replace(
    "  - {type: sigmoid}\n",
    "  - {type: sigmoid}\n  - {type: dropout, p: 0.2, seed: 1}\n  - {type: dropout, p: 0.1}\n",
    1,
)
# Momentum and a schedule (optimizer state and step matter); checkpoints every 4 updates.
RESUMABLE = [
    "checks.autograd=null",
    "train.epochs=3",
    "optimizer.momentum=0.9",
    "schedule={type: step, step_size: 1, gamma: 0.5}",
    "output.checkpoint_every=4",
    "output.plots=false",
]


def _rows(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]


def test_a_stop_on_one_rank_is_agreed_and_the_run_resumes_exactly(tmp_path: Path):
    (tmp_path / "spirals.yaml").write_text(DROPOUT)
    stopped = torchrun(
        str(HERE / "stop_rank.py"), "run", "spirals.yaml", "-o", "stopped", *RESUMABLE,
        cwd=tmp_path, env={"STOP_AT": "5"},
    )  # fmt: skip
    assert stopped.returncode != 0, stopped.stderr[-3000:]
    # Rank 1 was signalled after update 6; both ranks stop at the next agreed point, the
    # checkpoint after update 8, which rank 0 writes.
    assert stopped.stderr.count("corebp: stopped by SIGINT after step 8;") == 2, stopped.stderr
    out = tmp_path / "stopped"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted", summary
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 8

    resumed = torchrun("-m", "corebp", "resume", "stopped", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert resumed.stdout.count("run directory:") == 1
    whole = torchrun("-m", "corebp", "run", "spirals.yaml", "-o", "whole", *RESUMABLE, cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr[-3000:]

    a = torch.load(out / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "whole" / "checkpoint.pt", weights_only=True)
    assert a["step"] == b["step"] > 8
    for name, p in b["model"].items():
        assert torch.equal(a["model"][name], p), name
    for name, buffers in b["optimizer"]["state"].items():
        for key, t in buffers.items():
            assert torch.equal(a["optimizer"]["state"][name][key], t), (name, key)
    assert _rows(out) == _rows(tmp_path / "whole") and len(_rows(out)) == 3
    assert json.loads((out / "summary.json").read_text())["status"] == "completed"
    assert len(a["rng"]["ranks"]) == 2
    assert not torch.equal(a["rng"]["ranks"][0]["torch"], a["rng"]["ranks"][1]["torch"])

    alone = subprocess.run(
        [sys.executable, "-m", "corebp", "resume", "whole", "train.epochs=4"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert alone.returncode == 2, alone.stderr
    assert alone.stderr.strip().splitlines()[-1] == (
        "corebp: error: checkpoint: written by a run over 2 processes, resumed over 1; "
        "expected the same number (resume with torchrun --nproc_per_node=2)."
    )
