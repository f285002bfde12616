"""Run directories: one run per folder, even when started at the same moment (acceptance 5)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from corebp.errors import ConfigError
from corebp.training.rundir import RunDir

RECIPE = """\
model:
  - {type: linear, in_features: 2, out_features: 3}
loss: {type: cross_entropy}
optimizer: {type: sgd, lr: 0.1}
data: {source: synthetic, batch_size: 50, args: {train_size: 100, test_size: 50}}
train: {epochs: 1, device: cpu}
metrics: [accuracy]
output: {progress: log, plots: false}
"""


def test_six_runs_into_one_folder_one_wins_and_six_default_names_all_win(tmp_path: Path):
    (tmp_path / "r.yaml").write_text(RECIPE)
    shared = [
        [sys.executable, "-m", "corebp", "run", "r.yaml", f"train.seed={i}", "-o", "shared"]
        for i in range(6)
    ]
    default = [
        [sys.executable, "-m", "corebp", "run", "r.yaml", f"train.seed={i}"] for i in range(6)
    ]
    procs = [
        subprocess.Popen(c, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for c in shared + default
    ]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    for p in procs:
        p.stdout.close()  # type: ignore[union-attr]
        p.stderr.close()  # type: ignore[union-attr]

    codes = [code for code, _ in results[:6]]
    assert sorted(codes) == [0, 2, 2, 2, 2, 2], results
    for code, err in results[:6]:
        if code == 2:
            assert "output dir 'shared'" in err and "Traceback" not in err
    winner = codes.index(0)
    out = tmp_path / "shared"
    assert f"seed: {winner}" in (out / "recipe.yaml").read_text()
    assert json.loads((out / "provenance.json").read_text())["seed"] == winner
    assert json.loads((out / "summary.json").read_text())["seed"] == winner

    assert [code for code, _ in results[6:]] == [0] * 6, results[6:]
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 6
    seeds = {json.loads((r / "summary.json").read_text())["seed"] for r in runs}
    assert seeds == set(range(6))


def test_default_names_started_in_the_same_second_differ(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("corebp.training.rundir.time.strftime", lambda _: "20260101-000000")
    runs = [RunDir.create(None, "r") for _ in range(3)]
    assert [r.path.name for r in runs] == [
        "r-20260101-000000",
        "r-20260101-000000-2",
        "r-20260101-000000-3",
    ]


def test_a_folder_in_use_by_another_run_is_refused(tmp_path):
    first = RunDir.create(tmp_path / "run", "r")
    with pytest.raises(ConfigError, match="is in use by another corebp run"):
        RunDir(tmp_path / "run")
    first.close()
    RunDir(tmp_path / "run").close()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text("x"), "exists and is not a folder"),
        (lambda p: (p.parent.rmdir(), p.parent.write_text("x")), "Not a directory"),
        (lambda p: None, "File name too long"),
    ],
)
def test_an_output_dir_that_cannot_be_made_is_a_config_error_naming_it(make, message, tmp_path):
    target = tmp_path / "parent" / ("x" * 300 if message == "File name too long" else "run")
    target.parent.mkdir()
    make(target)
    with pytest.raises(ConfigError, match=f"output dir '{target}'.*{message}"):
        RunDir.create(target, "r")
