"""The `local` launcher: each run a process on this machine, `jobs` at a time."""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from pydantic import PositiveInt

from corebp.contracts.launcher import Job, Launcher, run_job


class LocalLauncher(Launcher):
    """Runs each run as a process on this machine.

    Args:
        jobs: runs at a time (`--jobs`).
        cpus: threads per run, its OMP_NUM_THREADS (`--cpus`); default: this machine's CPUs
            ÷ jobs.
    """

    def __init__(self, jobs: PositiveInt = 1, cpus: PositiveInt | None = None) -> None:
        self.jobs = jobs
        self.cpus = cpus or max(1, (os.cpu_count() or 1) // jobs)

    def __str__(self) -> str:
        return f"{self.jobs} at a time on this machine"

    def launch(self, jobs: Sequence[Job], folder: Path) -> Generator[tuple[Job, int], None, None]:
        pool = ThreadPoolExecutor(max_workers=self.jobs)
        try:
            futures = {pool.submit(run_job, job): job for job in jobs}
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:  # on Ctrl-C the runs stop themselves (checkpoint first); start no more
            pool.shutdown(wait=True, cancel_futures=True)

    def describe(self, jobs: Sequence[Job], folder: Path) -> str:
        where = f"{len(jobs)} runs, {self} (in {Path.cwd()}):"
        return "\n".join([where, *(job.shell() for job in jobs)])
