"""Run by torchrun: `corebp ARGS` in which rank 1 writes its pid to $PIDS/<rank> and kills
itself with SIGKILL at training step $KILL_AT; the other ranks write their pids too.

    python kill_rank.py run RECIPE [key=value ...]
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import torch

from corebp.cli.main import main
from corebp.hookspecs import TrainingRun, hookimpl
from corebp.plugins import registry


class Killer:
    @hookimpl
    def corebp_run_start(self, run: TrainingRun) -> None:
        (Path(os.environ["PIDS"]) / os.environ["RANK"]).write_text(str(os.getpid()))

    @hookimpl
    def corebp_after_backward(self, run: TrainingRun, x: torch.Tensor, y: torch.Tensor) -> None:
        if os.environ["RANK"] == "1" and run.step == int(os.environ["KILL_AT"]):
            os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    registry().pm.register(Killer(), name="killer")
    main()
