"""corebp first-party plugin: learning rules other than backprop, for Linear and Conv2d.

Registers `fa` (feedback alignment), `dfa` (direct feedback alignment), the sign-symmetry
rules `usf`, `brsf`, `frsf` (as in biotorch), `kp` (Kolen-Pollack) and `wm` (weight mirrors)
(Akrout et al. 2019), `drtp` (direct random target projection, Frenkel et al. 2021), and the
rules that own the training step: `local` (local losses pred/sim/predsim, Nøkland & Eidnes
2019), `ff` (forward-forward, Hinton 2022), `pc` (predictive coding, Whittington & Bogacz
2017) and `dtp` (difference target propagation, Lee et al. 2015).
See docs/learning-rules.md for the math.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from corebp.hookspecs import hookimpl
from corebp.util.lazy import lazy_attributes

if TYPE_CHECKING:
    from corebp.contracts.learning_rule import LearningRule
    from corebp_rules.dfa import DirectFeedbackAlignment
    from corebp_rules.drtp import DirectRandomTargetProjection
    from corebp_rules.fa import FeedbackAlignment
    from corebp_rules.feedback import FeedbackRule, StandIn
    from corebp_rules.forward_forward import ForwardForward
    from corebp_rules.kolen_pollack import KolenPollack
    from corebp_rules.local_losses import LocalLosses
    from corebp_rules.predictive_coding import PredictiveCoding
    from corebp_rules.sign_symmetry import (
        BatchwiseRandomSignFeedback,
        FixedRandomSignFeedback,
        UniformSignFeedback,
    )
    from corebp_rules.target_prop import DifferenceTargetPropagation
    from corebp_rules.weight_mirrors import WeightMirrors

# The rules import torch: only on first use, so that `corebp --help` stays fast.
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "corebp_rules.dfa": ["DirectFeedbackAlignment"],
        "corebp_rules.drtp": ["DirectRandomTargetProjection"],
        "corebp_rules.fa": ["FeedbackAlignment"],
        "corebp_rules.feedback": ["FeedbackRule", "StandIn"],
        "corebp_rules.forward_forward": ["ForwardForward"],
        "corebp_rules.kolen_pollack": ["KolenPollack"],
        "corebp_rules.local_losses": ["LocalLosses"],
        "corebp_rules.predictive_coding": ["PredictiveCoding"],
        "corebp_rules.sign_symmetry": [
            "BatchwiseRandomSignFeedback",
            "FixedRandomSignFeedback",
            "UniformSignFeedback",
        ],
        "corebp_rules.target_prop": ["DifferenceTargetPropagation"],
        "corebp_rules.weight_mirrors": ["WeightMirrors"],
    },
)


@hookimpl
def corebp_register_learning_rules() -> dict[str, type[LearningRule]]:
    from corebp_rules.dfa import DirectFeedbackAlignment
    from corebp_rules.drtp import DirectRandomTargetProjection
    from corebp_rules.fa import FeedbackAlignment
    from corebp_rules.forward_forward import ForwardForward
    from corebp_rules.kolen_pollack import KolenPollack
    from corebp_rules.local_losses import LocalLosses
    from corebp_rules.predictive_coding import PredictiveCoding
    from corebp_rules.sign_symmetry import (
        BatchwiseRandomSignFeedback,
        FixedRandomSignFeedback,
        UniformSignFeedback,
    )
    from corebp_rules.target_prop import DifferenceTargetPropagation
    from corebp_rules.weight_mirrors import WeightMirrors

    return {
        "fa": FeedbackAlignment,
        "dfa": DirectFeedbackAlignment,
        "usf": UniformSignFeedback,
        "brsf": BatchwiseRandomSignFeedback,
        "frsf": FixedRandomSignFeedback,
        "kp": KolenPollack,
        "wm": WeightMirrors,
        "drtp": DirectRandomTargetProjection,
        "local": LocalLosses,
        "ff": ForwardForward,
        "pc": PredictiveCoding,
        "dtp": DifferenceTargetPropagation,
    }


__all__ = [
    "BatchwiseRandomSignFeedback",
    "DifferenceTargetPropagation",
    "DirectFeedbackAlignment",
    "DirectRandomTargetProjection",
    "FeedbackAlignment",
    "FeedbackRule",
    "FixedRandomSignFeedback",
    "ForwardForward",
    "KolenPollack",
    "LocalLosses",
    "PredictiveCoding",
    "StandIn",
    "UniformSignFeedback",
    "WeightMirrors",
]
