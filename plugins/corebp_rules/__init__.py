"""corebp first-party plugin: learning rules other than backprop, for Linear and Conv2d.

Registers `fa` (feedback alignment), `dfa` (direct feedback alignment) and the sign-symmetry
rules `usf`, `brsf`, `frsf` (as in biotorch). See docs/learning-rules.md for the math.
"""

from __future__ import annotations

from corebp.contracts.learning_rule import LearningRule
from corebp.hookspecs import hookimpl
from corebp_rules.dfa import DirectFeedbackAlignment
from corebp_rules.fa import FeedbackAlignment
from corebp_rules.feedback import FeedbackRule, StandIn
from corebp_rules.sign_symmetry import (
    BatchwiseRandomSignFeedback,
    FixedRandomSignFeedback,
    UniformSignFeedback,
)


@hookimpl
def corebp_register_learning_rules() -> dict[str, type[LearningRule]]:
    return {
        "fa": FeedbackAlignment,
        "dfa": DirectFeedbackAlignment,
        "usf": UniformSignFeedback,
        "brsf": BatchwiseRandomSignFeedback,
        "frsf": FixedRandomSignFeedback,
    }


__all__ = [
    "BatchwiseRandomSignFeedback",
    "DirectFeedbackAlignment",
    "FeedbackAlignment",
    "FeedbackRule",
    "FixedRandomSignFeedback",
    "StandIn",
    "UniformSignFeedback",
]
