"""Run by torchrun: `corebp ARGS` in which rank 1 alone sends itself SIGINT right after update
$STOP_AT (the other ranks get no signal: they learn of the stop from the ranks' agreement).

    python stop_rank.py run RECIPE [key=value ...]
"""

from __future__ import annotations

import os
import signal

from corebp.cli.main import main
from corebp.hookspecs import TrainingRun, hookimpl
from corebp.plugins import registry


class StopRank1:
    @hookimpl
    def corebp_after_update(self, run: TrainingRun) -> None:
        if os.environ["RANK"] == "1" and run.step == int(os.environ["STOP_AT"]):
            os.kill(os.getpid(), signal.SIGINT)


if __name__ == "__main__":
    registry().pm.register(StopRank1(), name="stop-rank-1")
    main()
