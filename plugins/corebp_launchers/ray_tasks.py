"""The `ray` launcher: each run a Ray task, on the cluster at `address` or on a local one."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

from pydantic import NonNegativeFloat, PositiveFloat, PositiveInt

from corebp.contracts.launcher import Job, Launcher, note, parse_bytes, run_job
from corebp.util.optional import require

#: Seconds that cancelled runs get to checkpoint and stop before the sweep returns.
GRACE = 60.0


class RayLauncher(Launcher):
    """Runs every run as a Ray task, which runs the run's command with the sweep's Python:
    the nodes need the sweep directory and the environment on a filesystem they share.

    Args:
        address: the Ray cluster (`--address`): `ray://head:10001` (Ray Client) or `auto`
            (the cluster this machine is a node of); default: the cluster this process
            has joined, or a local one started for the sweep.
        cpus: CPUs per run (`--cpus`); its OMP_NUM_THREADS, rounded down, at least 1.
        gpus: GPUs per run (`--gpus`), a fraction shares one.
        mem: memory per run (`--mem`), e.g. 16G, reserved in Ray's scheduler.
        jobs: tasks at a time (`--jobs`); default: as the cluster's resources allow.
    """

    def __init__(
        self,
        address: str | None = None,
        cpus: PositiveFloat = 1,
        gpus: NonNegativeFloat = 0,
        mem: str | None = None,
        jobs: PositiveInt | None = None,
    ) -> None:
        self.ray = require("ray", "ray", "the ray launcher")
        self.address, self.jobs = address, jobs
        self.cpus = max(1, int(cpus))
        self.resources = {"num_cpus": cpus, "num_gpus": gpus}
        if mem:
            self.resources["memory"] = parse_bytes(mem)

    def __str__(self) -> str:
        return f"Ray tasks on {self.address or 'a local Ray cluster'}"

    def launch(self, jobs: Sequence[Job], folder: Path) -> Generator[tuple[Job, int], None, None]:
        ray = self.ray
        started = not ray.is_initialized()
        if started:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        task = ray.remote(run_job).options(max_retries=0, **self.resources)
        waiting = list(jobs)
        running: dict[Any, Job] = {}  # Ray's object references
        try:
            while waiting or running:
                while waiting and (self.jobs is None or len(running) < self.jobs):
                    job = waiting.pop(0)
                    running[task.remote(job)] = job
                (ref,), _ = ray.wait(list(running), num_returns=1)
                job = running.pop(ref)
                try:
                    code = ray.get(ref)
                except ray.exceptions.RayError as e:
                    note(job, f"the Ray task ended without an exit code: {e}")
                    code = 1
                yield job, code
        finally:  # stopped early: each task stops its run with SIGINT (checkpoint first)
            for ref in running:
                ray.cancel(ref)
            if running:
                ray.wait(list(running), num_returns=len(running), timeout=GRACE)
            if started:
                ray.shutdown()

    def describe(self, jobs: Sequence[Job], folder: Path) -> str:
        each = ", ".join(f"{k}={v}" for k, v in self.resources.items())
        at = f", at most {self.jobs} at a time" if self.jobs else ""
        where = f"{len(jobs)} runs as {self} ({each} each{at}), in {Path.cwd()}:"
        return "\n".join([where, *(job.shell() for job in jobs)])
