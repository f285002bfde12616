"""Forward-forward (Hinton 2022, "The Forward-Forward Algorithm: Some Preliminary
Investigations", §3.3 "A simple supervised example of FF"): no error crosses a layer; each
layer raises its goodness on positive data and lowers it on negative data.

The model's Linear layers, each with the parameter-free layers that follow it (its activation;
a last Linear without one is scored on its outputs as they are), are the FF layers k = 1..K.
An input is embedded with a label c by replacing its first C features with c's one-hot times
`label_value`: positive data is (x, y), negative data (x, ȳ), ȳ a wrong label. Layer k reads
h_{k−1} / ‖h_{k−1}‖ (h_0 = the embedded input, normalised too, as both reimplementations
do), a constant to it: its goodness is g_k = Σ_j h_kj² and its loss, over the batch's N
positive and N negative examples,

    L_k = 1/(2N) [Σ_pos softplus(θ − g_k) + Σ_neg softplus(g_k − θ)],

whose gradient dL_k/dh_k = ±σ(±(g_k − θ)) · 2 h_k / (2N) goes into layer k's own backward
(its parameters' grads), and nowhere below (the reimplementations' loss: mohammadpz/
pytorch_forward_forward main.py `Layer.train`, loeweX/Forward-Forward src/ff_model.py
`_calc_ff_loss`, with Σ h² as loeweX's goodness). The prediction is the label whose embedding
gives the largest goodness, summed over the scored layers (`infer`, the label search).
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import torch
from torch import Tensor

from corebp.contracts.choices import OneOf
from corebp.contracts.learning_rule import LearningRule
from corebp.contracts.loss import Loss
from corebp.errors import ConfigError, ShapeError
from corebp.layers.linear import Linear
from corebp.layers.sequential import Sequential
from corebp.training.distributed import world_size

#: How wrong labels are drawn for the negative data.
NEGATIVES = {
    "random": "uniformly among the C − 1 wrong labels, from the rule's generator",
    "hardest": "the wrong label of the largest goodness in the batch's label search",
}
#: Which layers' goodness the label search sums.
SCORED = {
    "all": "every layer's",
    "all_but_first": "every layer's but the first's (Hinton's §3.3)",
}
#: Added to a length before dividing by it (the reimplementations add 1e-4 and 1e-8).
EPS = 1e-8


def normalise(h: Tensor) -> Tensor:
    """h / ‖h‖ per example: what the next layer reads (its length, the goodness, removed)."""
    return h / (h.flatten(1).norm(dim=1).view(-1, *([1] * (h.dim() - 1))) + EPS)


class ForwardForward(LearningRule):
    """ff: each Linear (with its activation) is trained on its own goodness of positive and
    negative data; the prediction is the label whose embedding gives the most goodness.

    Args:
        threshold: θ ≥ 0, the goodness Σ h² at which a layer is undecided; positive data
            is pushed above it, negative data below.
        classes: C ≥ 2, the labels searched (the data's classes); the first C input features
            carry the label.
        label_value: the value of the label's feature in the embedded one-hot (the other
            C − 1 features are 0).
        negatives: how the negative data's wrong label is drawn: random (uniformly among the
            wrong labels) or hardest (the wrong label the label search scores highest).
        score_from: the layers whose goodness the label search sums: all, or all_but_first
            (Hinton's §3.3).
    """

    exact_gradient: ClassVar[bool] = False
    refuses: ClassVar[dict[str, str]] = {
        "checks.alignment": "trains each layer on its own goodness, and its outputs are the "
        "label search's goodness, not the model's forward, so there is no backprop signal "
        "of the same loss to measure angles against",
        "checks.autograd": "trains each layer on its own goodness, not on the recipe loss "
        "of the model's forward (tests/rules/test_forward_forward.py checks each layer's "
        "update against autograd of its goodness loss)",
    }
    # The conformance model reads 6 features: at most 6 classes.
    check_args: ClassVar = [
        {"classes": 3},
        {"classes": 4, "negatives": "hardest", "score_from": "all_but_first"},
        {"threshold": 0.5, "classes": 2, "label_value": 3.0},
    ]

    def __init__(
        self,
        threshold: float = 2.0,
        classes: int = 10,
        label_value: float = 1.0,
        negatives: Annotated[str, OneOf(NEGATIVES)] = "random",
        score_from: Annotated[str, OneOf(SCORED)] = "all",
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(generator)
        if not threshold >= 0:
            raise ConfigError(
                f"ff: threshold={threshold!r} must be a number ≥ 0 (the goodness Σ h² a "
                "layer separates positive from negative data at); set learning_rule.threshold."
            )
        if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
            raise ConfigError(
                f"ff: classes={classes!r} must be an integer ≥ 2 (the labels searched, the "
                "data's classes); set learning_rule.classes."
            )
        if label_value == 0:
            raise ConfigError(
                "ff: label_value=0 would embed every label as the same input; set "
                "learning_rule.label_value to a nonzero number (1.0: Hinton's one-hot)."
            )
        for name, value, choices in (
            ("negatives", negatives, NEGATIVES),
            ("score_from", score_from, SCORED),
        ):
            if value not in choices:
                raise ConfigError(
                    f"ff: {name}={value!r} is not one of {', '.join(choices)}; set "
                    f"learning_rule.{name}."
                )
        processes = world_size()
        if processes > 1:
            raise ConfigError(
                f"ff does not train data-parallel (this run has {processes} processes): it "
                "draws each batch's wrong labels for the batch it sees, so two ranks would not "
                "draw one process's labels; run ff in one process (without torchrun)."
            )
        self.threshold = float(threshold)
        self.classes = classes
        self.label_value = float(label_value)
        self.negatives = negatives
        self.score_from = score_from
        #: The FF layers: each Linear with the parameter-free layers after it.
        self.blocks: list[Sequential] = []

    def attach(self, model: Sequential) -> None:
        starts = [i for i, layer in enumerate(model.layers) if layer.params]
        for i in starts:
            if not isinstance(model.layers[i], Linear):
                raise ConfigError(
                    f"ff trains Linear layers (with their activations), and model.{i} "
                    f"({model.layers[i]!r}) has parameters but is not one; use a model of "
                    "linear layers and parameter-free activations."
                )
        if not starts:
            raise ConfigError(
                "ff trains Linear layers, and the model has none at its top level; add "
                "{type: linear} layers, each followed by an activation such as {type: relu}."
            )
        ends = [*starts[1:], len(model.layers)]
        first: Linear = model.layers[starts[0]]  # type: ignore[assignment]
        if first.in_features < self.classes:
            raise ConfigError(
                f"ff embeds the label in the first {self.classes} input features "
                f"(learning_rule.classes), and model.{starts[0]} reads {first.in_features}; "
                "expected inputs at least as wide as the number of classes."
            )
        if self.score_from == "all_but_first" and len(starts) == 1:
            raise ConfigError(
                "ff: score_from='all_but_first' leaves no layer to score in a model of one "
                "Linear; set learning_rule.score_from=all, or add a layer."
            )
        # The first layer's block also holds what comes before its Linear (a Flatten).
        bounds = [0, *starts[1:]]
        self.blocks = [Sequential(*model.layers[a:b]) for a, b in zip(bounds, ends, strict=True)]

    def embed(self, x: Tensor, labels: Tensor) -> Tensor:
        """x with its first C features replaced by `label_value` · one-hot(labels)."""
        flat = x.flatten(1)
        if flat.shape[1] < self.classes:
            raise ShapeError(
                f"ff: inputs of {flat.shape[1]} features per example, but the label takes the "
                f"first {self.classes} (learning_rule.classes); expected at least that many."
            )
        flat = flat.clone()
        flat[:, : self.classes] = 0
        flat[torch.arange(flat.shape[0], device=x.device), labels] = self.label_value
        return flat.view(x.shape)

    def goodness(self, x: Tensor) -> list[Tensor]:
        """Each layer's goodness Σ h² per example, for input x (its layers' forward)."""
        found = []
        h = x
        for block in self.blocks:
            h = block.forward(normalise(h))
            found.append(h.flatten(1).pow(2).sum(1))
        return found

    def infer(self, model: Sequential, x: Tensor) -> Tensor:
        """The label search: (N, C) goodness, summed over the scored layers, of x with each
        label embedded (one forward of C·N examples)."""
        n, c = x.shape[0], self.classes
        labels = torch.arange(c, device=x.device).repeat_interleave(n)
        found = self.goodness(self.embed(x.repeat(c, *([1] * (x.dim() - 1))), labels))
        scored = found[1:] if self.score_from == "all_but_first" else found
        return torch.stack(scored).sum(0).view(c, n).T

    def train_step(
        self, model: Sequential, loss: Loss, x: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor]:
        """The label search's scores (what the metrics see, before the update), then each
        layer's goodness loss on [positive; negative] and its own backward."""
        scores = self.infer(model, x)
        wrong = self.wrong_labels(y, scores)
        h = self.embed(torch.cat([x, x]), torch.cat([y, wrong]))
        n = x.shape[0]
        sign = torch.ones(2 * n, dtype=x.dtype, device=x.device)
        sign[:n] = -1  # positive: softplus(θ − g), negative: softplus(g − θ)
        for block in self.blocks:
            h = block.forward(normalise(h))
            flat = h.flatten(1)
            g = flat.pow(2).sum(1)
            dg = torch.sigmoid(sign * (g - self.threshold)) * sign / (2 * n)
            block.backward((flat * (2 * dg).unsqueeze(1)).view(h.shape), False)
        return scores, loss.forward(scores, y)

    def wrong_labels(self, y: Tensor, scores: Tensor) -> Tensor:
        """A wrong label for each example: as `negatives` says."""
        if self.negatives == "hardest":
            masked = scores.detach().clone()
            masked[torch.arange(y.shape[0], device=y.device), y] = -torch.inf
            return masked.argmax(1)
        shift = torch.randint(1, self.classes, (y.shape[0],), generator=self.generator)
        return (y + shift.to(y.device)) % self.classes

    def __repr__(self) -> str:
        return (
            f"ForwardForward(threshold={self.threshold}, label_value={self.label_value}, "
            f"negatives={self.negatives!r}, score_from={self.score_from!r}, "
            f"layers={len(self.blocks)})"
        )
