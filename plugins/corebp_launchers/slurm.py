"""The `submitit` launcher: each run a Slurm job (the sweep one job array), through submitit,
the library Hydra's Slurm launcher uses; `cluster="local"` runs the same jobs as local
processes with submitit's LocalExecutor, for testing without Slurm."""

from __future__ import annotations

import shutil
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import NonNegativeInt, PositiveInt

from corebp.contracts.launcher import Job, Launcher, note, parse_bytes, parse_minutes, run_job
from corebp.errors import ConfigError
from corebp.util.optional import require

#: Seconds between two looks at the jobs' states (submitit caches Slurm's answers itself).
POLL = 1.0


class SubmititLauncher(Launcher):
    """Submits every run as a task of one Slurm job array. The jobs run the sweep's own
    Python on the cluster's nodes, so the sweep directory and the environment must be on a
    filesystem they share (as submitit assumes).

    Args:
        partition: the Slurm partition (`--partition`); default: the cluster's.
        account: the Slurm account to charge (`--account`); default: yours.
        cpus: CPUs per run (`--cpus`), also its OMP_NUM_THREADS.
        gpus: GPUs per run (`--gpus`).
        mem: memory per run (`--mem`), e.g. 16G or 512M; default: the partition's.
        time: the time limit per run (`--time`): minutes, h:mm:ss or d-hh:mm:ss; a run
            past it is stopped with a checkpoint, and resumed when the sweep runs again.
        jobs: array tasks at a time (`--jobs`); default: as Slurm allows.
        cluster: `slurm`, or `local` to run the jobs as local processes through
            submitit's LocalExecutor (for testing without Slurm).
    """

    def __init__(
        self,
        partition: str | None = None,
        account: str | None = None,
        cpus: PositiveInt = 1,
        gpus: NonNegativeInt = 0,
        mem: str | None = None,
        time: str = "1:00:00",
        jobs: PositiveInt | None = None,
        cluster: Literal["slurm", "local"] = "slurm",
    ) -> None:
        self.submitit = require("submitit", "slurm", "the submitit launcher")
        self.cpus, self.cluster = cpus, cluster
        self.minutes = parse_minutes(time)
        #: The job array's Slurm parameters, as submitit's SlurmExecutor takes them.
        self.sbatch: dict[str, Any] = {
            "job_name": "corebp-sweep",
            "partition": partition,
            "account": account,
            "cpus_per_task": cpus,
            "gpus_per_node": gpus or None,
            "mem": f"{parse_bytes(mem) // 2**20}MB" if mem else None,
            "time": self.minutes,
            "array_parallelism": jobs,
        }
        self.sbatch = {k: v for k, v in self.sbatch.items() if v is not None}

    def __str__(self) -> str:
        if self.cluster == "local":
            return "submitit's local executor"
        on = f" partition {self.sbatch['partition']}" if "partition" in self.sbatch else ""
        return f"Slurm{on}, through submitit"

    def check(self) -> None:
        if self.cluster == "slurm" and shutil.which("sbatch") is None:
            raise ConfigError(
                "--launcher submitit: sbatch is not on PATH, so there is no Slurm to submit to; "
                "expected to run on a Slurm login node. Fix: run the sweep there, or add "
                "'cluster: local' to --launcher-config to run the jobs here through submitit."
            )

    def launch(self, jobs: Sequence[Job], folder: Path) -> Generator[tuple[Job, int], None, None]:
        executor = self.submitit.AutoExecutor(
            folder=folder / "submitit" / "%j", cluster=self.cluster
        )
        # The Slurm parameters for Slurm (AutoExecutor passes `slurm_*` on to it), the time
        # limit for the local executor too.
        executor.update_parameters(
            timeout_min=self.minutes, **{f"slurm_{k}": v for k, v in self.sbatch.items()}
        )
        running = dict(zip(executor.map_array(run_job, jobs), jobs, strict=True))
        try:
            while running:
                for submitted in [s for s in running if s.done()]:
                    yield (job := running.pop(submitted)), self._code(submitted, job)
                if running:
                    time.sleep(POLL)
        finally:  # stopped early: Slurm sends the runs SIGTERM (they checkpoint first)
            for submitted in running:
                submitted.cancel(check=False)

    @staticmethod
    def _code(submitted: Any, job: Job) -> int:
        """The run's exit code, or 1 (and a note in its log) for a job Slurm lost."""
        try:
            return int(submitted.result())
        except Exception as e:
            note(job, f"submitit job {submitted.job_id} ended without an exit code: {e}")
            return 1

    def describe(self, jobs: Sequence[Job], folder: Path) -> str:
        """The sbatch script of the job array, as submitit writes it, and what each task runs."""
        slurm = self.submitit.slurm.slurm

        class Renderer(slurm.SlurmExecutor):  # type: ignore[name-defined]
            """A SlurmExecutor that renders its script on a machine without Slurm."""

            @classmethod
            def affinity(cls) -> int:
                return 1

        renderer = Renderer(folder / "submitit" / "%j")
        renderer.update_parameters(**self.sbatch)
        renderer.parameters["map_count"] = len(jobs)  # what submitit sets for a job array
        script = renderer._make_submission_file_text(renderer._submitit_command_str, "dry-run")
        tasks = [f"# task {i}: {job.shell()}" for i, job in enumerate(jobs)]
        return "\n".join([f"# sbatch script of {len(jobs)} runs, in {Path.cwd()}:", script, *tasks])
