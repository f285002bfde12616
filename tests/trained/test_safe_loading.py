"""A checkpoint that would run code when unpickled is refused, and the code never runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from corebp.errors import DataError
from corebp.training import checkpoint


class RunsCode:
    """Unpickling this calls exec(...), which creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.fixture
def booby_trapped_run(synthetic_run: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of a real run whose checkpoint also holds an object that runs code."""
    run = tmp_path / "run"
    shutil.copytree(synthetic_run, run)
    marker = tmp_path / "code-ran"
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    state["extra"] = RunsCode(marker)
    torch.save(state, run / "checkpoint.pt")
    return run, marker


def test_the_trap_really_runs_code_when_loaded_unsafely(booby_trapped_run):
    run, marker = booby_trapped_run
    torch.load(run / "checkpoint.pt", weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize(
    "args",
    [("eval",), ("predict", "digit.png"), ("export", "--format", "torch")],
    ids=["eval", "predict", "export"],
)
def test_eval_predict_and_export_refuse_it_in_one_line(booby_trapped_run, corebp_cli, args):
    run, marker = booby_trapped_run
    code, _, err = corebp_cli(args[0], str(run), *args[1:])
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"corebp: error: {run / 'checkpoint.pt'}: ")
    assert "refused" in err and "(it refers to 'exec')" in err
    assert not marker.exists()
    assert not (run / "model.pt").exists()


def test_a_truncated_checkpoint_is_a_one_line_data_error(synthetic_run: Path, tmp_path: Path):
    broken = tmp_path / "checkpoint.pt"
    broken.write_bytes((synthetic_run / "checkpoint.pt").read_bytes()[:200])
    with pytest.raises(DataError, match="damaged, or not a corebp checkpoint") as e:
        checkpoint.read(broken)
    assert "\n" not in str(e.value)
