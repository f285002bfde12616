"""corebp first-party plugin: the TensorBoard logger (`output.loggers: [tensorboard]`).

Needs the optional extra: pip install 'corebp[tensorboard]'. See docs/using-a-trained-model.md.
"""

from __future__ import annotations

from corebp.contracts.logger import Logger
from corebp.hookspecs import hookimpl
from corebp_tensorboard.logger import TensorBoardLogger

__all__ = ["TensorBoardLogger"]


@hookimpl
def corebp_register_loggers() -> dict[str, type[Logger]]:
    return {"tensorboard": TensorBoardLogger}
