"""`corebp sweep --launcher`: the same sweep, table and resume on local processes, Slurm
through submitit (its local executor) and a Ray cluster; resources and --dry-run."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from corebp.cli import main
from corebp.training.sweep import Sweep
from tests.recipes.conftest import write_synthetic_recipe

HERE = Path(__file__).parent
GRID = ["optimizer.lr=0.1,0.5", "--seeds", "0-1"]


def installed(module: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        importlib.util.find_spec(module) is None, reason=f"{module} is not installed"
    )


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """A local Ray cluster of 2 CPUs; the ray launcher uses the one this process joined."""
    ray = pytest.importorskip("ray", reason="ray (corebp[ray]) is not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(params=["local", "submitit", "ray"])
def launcher(request, tmp_path) -> list[str]:
    """The sweep options of each launcher: submitit runs its jobs with its local executor."""
    if request.param == "local":
        return ["--launcher", "local", "--jobs", "2"]
    if request.param == "submitit":
        pytest.importorskip("submitit", reason="submitit (corebp[slurm]) is not installed")
        config = tmp_path / "submitit.yaml"
        config.write_text("launcher: submitit\ncluster: local\ntime: '10'\n")
        return ["--launcher-config", str(config)]
    request.getfixturevalue("ray_cluster")
    return ["--launcher", "ray", "--cpus", "1"]


@pytest.fixture
def sweep(corebp_cli):
    """`sweep(*args)`: `corebp sweep ARGS` in this process: exit code, stdout, stderr."""

    def run(*args: str | Path) -> tuple[int, str, str]:
        return corebp_cli("sweep", *map(str, args))

    return run


def table(directory: Path) -> list[dict]:
    """sweep.json's cells, without the seconds each run took."""
    cells = json.loads((directory / "sweep.json").read_text())["cells"]
    for cell in cells:
        for run in cell["runs"]:
            run.pop("seconds")
    return cells


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> list[dict]:
    """The table of the grid, run by `local` one at a time."""
    tmp = tmp_path_factory.mktemp("reference")
    recipe = write_synthetic_recipe(tmp / "spirals.yaml")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["corebp", "sweep", str(recipe), *GRID, "-o", str(tmp / "s")])
        with pytest.raises(SystemExit) as done:
            main.main()
    assert done.value.code in (0, None)
    return table(tmp / "s")


@pytest.fixture
def recipe(tmp_path) -> Path:
    return write_synthetic_recipe(tmp_path / "spirals.yaml")


def test_every_launcher_gives_the_same_table_to_every_digit(
    sweep, launcher, recipe, uninterrupted, tmp_path
):
    code, out, err = sweep(recipe, *GRID, *launcher, "-o", tmp_path / "s")
    assert code == 0, err
    assert "4 to go" in out and "[4/4]" in out
    cells = table(tmp_path / "s")
    assert cells == uninterrupted
    assert all(c["status"] == {"completed": 2} for c in cells)


def test_a_job_killed_mid_run_is_resumed_and_the_table_is_the_uninterrupted_one(
    sweep, launcher, recipe, uninterrupted, tmp_path, monkeypatch
):
    command = Sweep.command

    def killed_at_step_50(self: Sweep, run) -> list[str]:
        line = command(self, run)
        if run.cell == self.cells[1] and run.seed == 1 and line[3] == "run":
            return [sys.executable, str(HERE / "stop_at_step.py"), "KILL", "50", *line[3:]]
        return line

    monkeypatch.setattr(Sweep, "command", killed_at_step_50)
    out_dir = tmp_path / "s"
    code, out, err = sweep(recipe, *GRID, *launcher, "-o", out_dir)
    log = out_dir / "optimizer.lr=0.5" / "seed-1.log"
    assert code == 1 and f"1 of 4 runs failed; see {log}" in err
    lost = json.loads((log.parent / "seed-1" / "summary.json").read_text())
    assert lost["status"] == "running" and lost["epochs"] == 1  # killed in epoch 2

    monkeypatch.setattr(Sweep, "command", command)
    code, out, err = sweep(recipe, *GRID, *launcher, "-o", out_dir)
    assert code == 0, err
    assert "3 runs already finished, 1 to go" in out
    assert f"resuming {log.parent / 'seed-1'} from step " in log.read_text()
    assert table(out_dir) == uninterrupted


@installed("submitit")
def test_dry_run_prints_the_sbatch_script_with_the_resources_and_writes_nothing(
    sweep, recipe, tmp_path
):
    config = tmp_path / "cluster.yaml"
    config.write_text("launcher: submitit\npartition: cpu\naccount: lab\ncpus: 2\n")
    resources = ["--partition", "gpu", "--gpus", "1", "--cpus", "4", "--mem", "16G"]
    out_dir = tmp_path / "s"
    code, out, err = sweep(
        recipe, *GRID, "--launcher-config", config, *resources, "--time", "2:00:00",
        "--jobs", "3", "--dry-run", "-o", out_dir,
    )  # fmt: skip
    assert code == 0, err
    sbatch = dict(re.findall(r"^#SBATCH --([a-z-]+)=(\S+)$", out, re.MULTILINE))
    assert {k: sbatch[k] for k in ("partition", "account", "cpus-per-task", "gpus-per-node")} == {
        "partition": "gpu",  # the command line wins over the file
        "account": "lab",
        "cpus-per-task": "4",
        "gpus-per-node": "1",
    }
    assert (sbatch["mem"], sbatch["time"], sbatch["array"]) == ("16384MB", "120", "0-3%3")
    assert out.startswith("sweep spirals: 4 runs to go") and "#!/bin/bash" in out
    assert out.count(" -m corebp run ") == 4 and "OMP_NUM_THREADS=" in out
    assert not out_dir.exists()


@pytest.mark.parametrize(
    ("module", "name", "extra"), [("submitit", "submitit", "slurm"), ("ray", "ray", "ray")]
)
def test_a_launcher_whose_package_is_missing_names_the_extra(
    sweep, module, name, extra, recipe, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import <module>` fail
    code, _, err = sweep(recipe, "--launcher", name, "--dry-run", "-o", tmp_path / "s")
    assert code == 2 and "Traceback" not in err
    assert f"the {name} launcher needs the {module!r} package" in err
    assert f"Fix: pip install 'corebp[{extra}]'" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--partition", "gpu"], "--partition: the local launcher takes no partition; "),
        (["--partition", "gpu"], "Fix: use --launcher submitit, or leave partition out."),
        (["--launcher", "slurm"], "--launcher: 'slurm' is not a registered launcher"),
        (["--launcher", "ray", "--mem", "lots"], "--mem 'lots': expected an amount"),
        (["--launcher", "submitit", "--time", "1:30"], "--time '1:30': expected minutes"),
        (["--launcher", "ray", "--time", "10"], "Fix: use --launcher submitit"),
        (["--launcher-config", "CONFIG"], "--launcher-config CONFIG: partiton: the submitit"),
        (["--launcher-config", "CONFIG"], "Did you mean 'partition'?"),
        (["--launcher", "submitit", "optimizer.lr=0.1,-1"], "sweep cell 'optimizer.lr=-1': "),
    ],
)
def test_bad_launcher_options_are_refused_before_anything_is_written(
    sweep, args, message, recipe, tmp_path
):
    config = tmp_path / "c.yaml"
    config.write_text("launcher: submitit\npartiton: gpu\n")
    args = [str(config) if a == "CONFIG" else a for a in args]
    code, _, err = sweep(recipe, *args, "--seeds", "0", "-o", tmp_path / "s")
    assert code == 2 and "Traceback" not in err
    assert message.replace("CONFIG", str(config)) in err
    assert not (tmp_path / "s").exists()


@installed("submitit")
def test_the_launcher_config_in_the_docs_submits_what_it_says(sweep, recipe, tmp_path):
    doc = (HERE.parents[1] / "docs" / "recipes.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```text\n( *launcher: submitit\n.*?)```", doc, re.S)
    config = tmp_path / "cluster.yaml"
    config.write_text(textwrap.dedent(block))
    code, out, err = sweep(recipe, "--launcher-config", config, "--dry-run")
    assert code == 0, err
    for line in ("partition=gpu", "account=mylab", "gpus-per-node=1", "cpus-per-task=4"):
        assert f"#SBATCH --{line}\n" in out
    assert "#SBATCH --time=120\n" in out
