"""`python stop_at_step.py SIGNAL STEP corebp-arguments...`: the corebp command, with a plugin
that sends this process SIGNAL (KILL, INT or TERM) right after update number STEP — for the
tests of checkpoints, resume and signals."""

from __future__ import annotations

import os
import signal
import sys

from corebp.cli.main import main
from corebp.hookspecs import TrainingRun, hookimpl
from corebp.plugins import registry


class StopAtStep:
    def __init__(self, signum: int, step: int) -> None:
        self.signum, self.step = signum, step

    @hookimpl
    def corebp_after_update(self, run: TrainingRun) -> None:
        if run.step == self.step:
            os.kill(os.getpid(), self.signum)


if __name__ == "__main__":
    name, step = sys.argv[1], int(sys.argv[2])
    registry().pm.register(StopAtStep(signal.Signals[f"SIG{name}"], step), name="stop-at-step")
    sys.argv = ["corebp", *sys.argv[3:]]
    main()
