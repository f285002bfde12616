"""Learning-rate schedules, one per file. Epoch-based arguments count whole epochs."""

from corebp_optim.schedules.constant import Constant
from corebp_optim.schedules.cosine import Cosine
from corebp_optim.schedules.exponential import Exponential
from corebp_optim.schedules.step import Step
from corebp_optim.schedules.warmup_linear import WarmupLinear

__all__ = ["Constant", "Cosine", "Exponential", "Step", "WarmupLinear"]
