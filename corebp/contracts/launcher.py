"""The launcher contract: where a sweep's runs execute (local processes, Slurm, Ray).

A launcher gets the runs a sweep still has to do, each a `Job`: the `corebp run` (or
`corebp resume`) command line, the run directory it writes and the log its output goes to.
It runs them, with the resources it was built with, and reports each one's exit code as it
finishes. Everything else (which runs are finished, which to resume, the tables) is the
sweep's.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from corebp.errors import ConfigError


@dataclass(frozen=True)
class Job:
    """One run of a sweep: `command`, run in `cwd`, writes `run_dir`; its output is appended
    to `log`."""

    name: str
    command: tuple[str, ...]
    run_dir: Path
    log: Path
    cwd: Path
    #: Environment variables the command runs with, on top of the executing process's own.
    env: dict[str, str] = field(default_factory=dict)

    def shell(self) -> str:
        """The job as one shell line (run in `cwd`), what `--dry-run` shows."""
        words = [f"{k}={shlex.quote(v)}" for k, v in self.env.items()]
        words += [shlex.join(self.command), ">>", shlex.quote(str(self.log)), "2>&1"]
        return " ".join(words)


def run_job(job: Job) -> int:
    """Run `job`'s command where this is called (a thread, a Slurm job, a Ray task); its exit
    code. Stopped itself (a Ray cancel raises KeyboardInterrupt here), it stops the command
    with SIGINT, which checkpoints first, and waits for it."""
    job.log.parent.mkdir(parents=True, exist_ok=True)
    with job.log.open("a", encoding="utf-8") as out:
        process = subprocess.Popen(
            job.command,
            cwd=job.cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **job.env},
        )
        try:
            return process.wait()
        except BaseException:
            process.send_signal(signal.SIGINT)
            process.wait()
            raise


def note(job: Job, text: str) -> None:
    """Append a line to `job`'s log: what the launcher saw (a job the engine lost)."""
    job.log.parent.mkdir(parents=True, exist_ok=True)
    with job.log.open("a", encoding="utf-8") as out:
        out.write(f"corebp sweep: {text}\n")


class Launcher:
    """Base class of launchers, chosen by `corebp sweep --launcher NAME`.

    Built as `Launcher(**options)` from the sweep's command line (`--cpus 4` is `cpus=4`) and
    `--launcher-config`: check the options, and import optional dependencies with
    `corebp.util.optional.require`, in the constructor, since it runs before anything is
    written. Then `check()`, unless the sweep is a `--dry-run`, and `launch(jobs, folder)`.
    `str(launcher)` says where the runs go, for the sweep's first line ("2 at a time on this
    machine").
    """

    #: CPUs per run: each run's OMP_NUM_THREADS, unless the environment sets it.
    cpus: int = 1

    def check(self) -> None:
        """Raise a ConfigError if jobs cannot be launched from here (e.g. no Slurm)."""

    def launch(self, jobs: Sequence[Job], folder: Path) -> Generator[tuple[Job, int], None, None]:
        """Run every job; yield each with its exit code as it finishes, in any order. `folder`
        (the sweep's) may hold the launcher's own files (e.g. submitit's).

        A job the engine lost (a node failure, a cancelled task) is yielded with a non-zero
        code and a `note` in its log. Closing the iterator early (Ctrl-C) stops what is still
        running, as a run stops on SIGINT or SIGTERM: with a checkpoint."""
        raise NotImplementedError(f"{type(self).__name__} must implement launch(jobs)")

    def describe(self, jobs: Sequence[Job], folder: Path) -> str:
        """What `launch(jobs)` would submit, for `--dry-run`; nothing is started."""
        raise NotImplementedError(f"{type(self).__name__} must implement describe(jobs)")


def parse_minutes(text: str) -> int:
    """A time limit in whole minutes (seconds round up): '90' (minutes), '1:30:00'
    (hours:minutes:seconds) or '2-00:00:00' (days-hours:minutes:seconds), as Slurm writes it."""
    match = re.fullmatch(r"(\d+)|(?:(\d+)-)?(\d+):(\d\d):(\d\d)", text.strip())
    if match is None:
        raise ConfigError(
            f"--time {text!r}: expected minutes (90), hours:minutes:seconds (1:30:00) or "
            "days-hours:minutes:seconds (2-00:00:00)."
        )
    alone, days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total = alone or days * 24 * 60 + hours * 60 + minutes + (seconds > 0)
    if total < 1:
        raise ConfigError(f"--time {text!r}: expected at least one minute.")
    return total


_UNITS = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_bytes(text: str) -> int:
    """An amount of memory in bytes: '16G', '512M', '16GB' (powers of 1024, as Slurm)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT])B?", text.strip().upper())
    if match is None or float(match[1]) <= 0:
        raise ConfigError(
            f"--mem {text!r}: expected an amount with a unit, such as 16G, 512M or 1.5T."
        )
    return int(float(match[1]) * _UNITS[match[2]])
