"""corebp first-party plugin: explicit update rules (SGD, Adam, AdamW) and learning-rate schedules.

Registered through the `corebp` entry-point group like any third-party plugin; the core
imports nothing from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from corebp.hookspecs import hookimpl
from corebp.util.lazy import lazy_attributes

if TYPE_CHECKING:
    from corebp.contracts.optimizer import Optimizer
    from corebp.contracts.schedule import Schedule
    from corebp_optim.adam import Adam, AdamW
    from corebp_optim.schedules import Constant, Cosine, Exponential, Step, WarmupLinear
    from corebp_optim.sgd import SGD

# The optimizers import torch: only on first use, so that `corebp --help` stays fast.
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "corebp_optim.adam": ["Adam", "AdamW"],
        "corebp_optim.schedules": ["Constant", "Cosine", "Exponential", "Step", "WarmupLinear"],
        "corebp_optim.sgd": ["SGD"],
    },
)


@hookimpl
def corebp_register_optimizers() -> dict[str, type[Optimizer]]:
    from corebp_optim.adam import Adam, AdamW
    from corebp_optim.sgd import SGD

    return {"sgd": SGD, "adam": Adam, "adamw": AdamW}


@hookimpl
def corebp_register_schedules() -> dict[str, type[Schedule]]:
    from corebp_optim.schedules import Constant, Cosine, Exponential, Step, WarmupLinear

    return {
        "constant": Constant,
        "step": Step,
        "exponential": Exponential,
        "cosine": Cosine,
        "warmup_linear": WarmupLinear,
    }


__all__ = ["SGD", "Adam", "AdamW", "Constant", "Cosine", "Exponential", "Step", "WarmupLinear"]
