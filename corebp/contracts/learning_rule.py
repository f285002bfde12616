"""Learning rules: how a model's backward assigns credit. The default, backprop, is the model
as its layers wrote it.

A rule is built once per run, after the model (and after the model's weights are drawn), with
a `torch.Generator` of its own seeded from `train.seed`, so choosing a rule never changes the
initial weights. `attach(model)` may put layers of its own in the model's place
(`Sequential.replace`); the parameters, their names and the optimizer stay the same. A rule
whose backward is deliberately not the gradient declares `exact_gradient = False`: the autograd
check then reports a difference as expected and the torch twin is refused. Whatever the rule
draws or keeps (feedback matrices, its generator) is in `state_dict()`, saved in the checkpoint
and restored by `load_state_dict()`. A rule that sends errors through feedback tensors of
W's shape reports them in `feedback_weights()`, for the alignment diagnostics.

A rule may also take part in the training step, through three points of the contract that
the training loop calls only for a rule that uses them:

- `params` / `grads`: tensors the rule owns and the run's optimizer trains beside the
  model's (Kolen-Pollack's B), with optimizer state of their own
  (`Optimizer.include`). They are in the rule's `state_dict()`; their optimizer state is in
  the optimizer's, under the rule's names for them (which must not be a model parameter's).
- `before_backward(x, y)`: the batch, before the model's backward (DRTP reads the target).
- `after_update()`: after the optimizer's step and `zero_grad` (weight mirrors' phases).

A rule may own the step and the inference, for a rule that is not "forward, loss, backward":

- `train_step(model, loss, x, y)`: in place of the loop's forward → loss → `before_backward`
  → backward, the rule's own computation for the batch (forward-forward's positive and
  negative passes, predictive coding's relaxation, a block's local loss). It leaves in
  `model.grads` (and in its own `grads`) what the optimizer is to apply, and returns the
  batch's outputs (what the metrics see, as `infer` gives them) and the recipe's loss of
  them. Everything after the backward is the loop's: the `corebp_after_backward` listeners
  (the data-parallel all-reduce, the checks), the optimizer's step, `after_update`.
- `infer(model, x)`: the outputs the trained model predicts from, where the rule's inference
  is not the model's forward (forward-forward's search over the labels). Evaluation during
  training, `corebp eval` and `corebp predict` use it; `corebp export` refuses such a rule,
  since the exported model alone would not give its predictions.

A rule's own `grads` that are stored tensors (a dict, not computed from the model's) are
all-reduced with the model's under data parallelism: the rule writes into them in place
(`copy_`, `add_`), and never rebinds them, since the buffer the all-reduce sums holds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import torch
from torch import Tensor

from corebp.contracts.loss import Loss
from corebp.errors import ConfigError
from corebp.layers.sequential import Sequential

#: Added to `train.seed` to seed a rule's generator, so that its stream is not the shuffle's.
SEED_OFFSET = 1_000_003


def rule_generator(seed: int) -> torch.Generator:
    """The generator a run's learning rule draws from (seeded from the recipe's `train.seed`)."""
    return torch.Generator().manual_seed(seed + SEED_OFFSET)


class LearningRule:
    """Base class of every learning rule; as it is, it leaves the model's backward alone."""

    #: False for a rule whose updates are not the gradient (feedback alignment and the like).
    exact_gradient: ClassVar[bool] = True
    #: The checks the rule cannot run with, and why: "checks.alignment", "checks.autograd"
    #: (refused by `corebp validate` when the recipe sets them). A rule that cannot train
    #: data-parallel refuses in its constructor when `training.distributed.world_size()` > 1.
    refuses: ClassVar[dict[str, str]] = {}

    def __init__(self, generator: torch.Generator | None = None) -> None:
        self.generator = torch.Generator() if generator is None else generator
        #: Tensors the rule owns that the run's optimizer trains, by name (none by default).
        self.params: dict[str, Tensor] = {}
        #: Their gradients, same keys, read by the optimizer at each step (a Mapping, so a
        #: rule may compute one from the model's gradients when it is read).
        self.grads: Mapping[str, Tensor] = {}

    def attach(self, model: Sequential) -> None:
        """Take over the backward of the model's layers this rule applies to (default: none)."""

    def before_backward(self, x: Tensor, y: Tensor) -> None:
        """Called with the batch (input x, target y) after the forward and before the
        model's backward; the default does nothing."""

    def after_update(self) -> None:
        """Called after the optimizer's step and the model's `zero_grad`; the default does
        nothing."""

    def train_step(
        self, model: Sequential, loss: Loss, x: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Own the step for batch (x, y): leave the update in the model's (and the rule's)
        grads and return (outputs, the loss's value of them). Called only when overridden;
        the default is the loop's own forward, loss, `before_backward` and backward."""
        out = model.forward(x)
        value = loss.forward(out, y)
        self.before_backward(x, y)
        error = loss.backward  # the loss's explicit backward: dL/d(out)
        model.backward(error(), False)
        return out, value

    def infer(self, model: Sequential, x: Tensor) -> Tensor:
        """The outputs the model predicts from for input x; the default is its forward."""
        return model.forward(x)

    @classmethod
    def uses(cls, point: str) -> bool:
        """Whether this rule (or rule class) overrides `point` ("before_backward",
        "after_update", "train_step", "infer"), so the loop calls it (a rule that does not
        costs the loop nothing)."""
        return getattr(cls, point) is not getattr(LearningRule, point)

    def feedback_weights(self) -> dict[int, Tensor]:
        """What the last backward sent errors through in place of a layer's W, in W's layout,
        by the layer's position in the model; read by `checks.alignment` for the angle between
        B and W. Only tensors of W's shape (default: none, as for backprop)."""
        return {}

    def state_dict(self) -> dict[str, Tensor]:
        """Tensors to checkpoint: what the rule drew or owns, and its generator's state."""
        return {"generator": self.generator.get_state()} | dict(self.params)

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restore what `state_dict()` returned (after `attach`); the rule's own tensors are
        copied in place (the optimizer trains those very tensors)."""
        missing = sorted({"generator", *self.params} - state.keys())
        if missing:
            raise ConfigError(
                f"{type(self).__name__}.load_state_dict: the state has no "
                f"{', '.join(map(repr, missing))}; expected "
                "a dict from state_dict() of the same rule on the same model (a checkpoint's "
                "'learning_rule')."
            )
        self.generator.set_state(state["generator"])
        with torch.no_grad():
            for name, p in self.params.items():
                p.copy_(state[name])

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Backprop(LearningRule):
    """Backpropagation: every layer's own backward, dL/dx = the true gradient. The default."""
