"""corebp first-party plugin: the TensorBoard logger (`output.loggers: [tensorboard]`).

Needs the optional extra: pip install 'corebp[tensorboard]'. See docs/using-a-trained-model.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from corebp.hookspecs import hookimpl
from corebp.util.lazy import lazy_attributes

if TYPE_CHECKING:
    from corebp.contracts.logger import Logger
    from corebp_tensorboard.logger import TensorBoardLogger

# The logger imports torch: only on first use, so that `corebp --help` stays fast.
__getattr__, __dir__ = lazy_attributes(
    __name__, {"corebp_tensorboard.logger": ["TensorBoardLogger"]}
)

__all__ = ["TensorBoardLogger"]


@hookimpl
def corebp_register_loggers() -> dict[str, type[Logger]]:
    from corebp_tensorboard.logger import TensorBoardLogger

    return {"tensorboard": TensorBoardLogger}
