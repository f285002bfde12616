"""Predictive coding (Whittington & Bogacz 2017; Millidge, Tschantz & Buckley 2020; Song et al.
2020): each batch's hidden values relax to lower an energy of prediction errors, with the input
and the target clamped; then every block's weights learn from its own prediction error.

The model is cut into blocks, each a layer with parameters and the parameter-free layers after
it (Linear, Tanh; pypc's `FCLayer`); block k predicts μ_k = f_k(v_{k−1}) from the value below
it. v_0 is the input; the free nodes v_1 … v_{L−1} start at the feed-forward values; the
output's error is the loss's (Millidge 2020, any loss): ε_L = −β ∂ℓ/∂μ_L, ℓ the example's own
loss and β `output_weight`; for ½‖μ_L − y‖² and β = 1 that is y − μ_L, the output clamped to
the target. With ε_k = v_k − μ_k, T steps of rate γ descend

    F = Σ_{k<L} ½‖ε_k‖² + β ℓ(μ_L, y),   v_k ← v_k − γ (ε_k − J_{k+1}ᵀ ε_{k+1}),

J_{k+1}ᵀ ε_{k+1} being block k+1's own backward fed ε_{k+1}, every node moving from the
errors before the step (pypc `PCModel.train_updates`). Then block k's backward, fed
r/β · (−ε_k) (r: 1/N for a mean loss, 1 for a sum), leaves r/β · ∂F/∂θ_k in its gradients.

`fixed_prediction` holds every μ_k, J_k and ε_L at their feed-forward values (Millidge 2020's
fixed-prediction assumption; their cnn.py `PCNet.infer`): ε_k ← (1 − γ) ε_k + γ Ĵᵀ ε_{k+1},
which at γ = 1 after T ≥ L − 1 steps is backprop's error at every node, so the update is
backprop's (Song et al. 2020's Z-IL). Each example relaxes on its own (F sums over the batch),
so a data-parallel run's shards relax as the whole batch would. The math and the measurements:
docs/learning-rules.md#pc-predictive-coding.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import ClassVar

import torch
from torch import Tensor

from corebp.contracts.layer import Layer
from corebp.contracts.learning_rule import LearningRule
from corebp.contracts.loss import Loss, reduction_factor
from corebp.errors import ConfigError
from corebp.layers.dropout import Dropout
from corebp.layers.sequential import Sequential


class PredictiveCoding(LearningRule):
    """pc: the hidden values relax for `steps` steps, then each block learns from its error.

    Args:
        steps: T ≥ 1, the inference steps per batch (each a forward and a backward of every
            block but the first).
        rate: γ in (0, 2), the inference rate: each step moves every hidden value by γ times
            the energy's gradient.
        fixed_prediction: hold the predictions, their Jacobians and the output error at their
            feed-forward values while relaxing (Millidge 2020); with rate 1 and steps ≥ the
            number of hidden nodes the update is backprop's.
        output_weight: β > 0, the loss's weight in the energy (1: the loss's own error at the
            output, the target clamped for ½‖out − y‖²); the update is divided by β, and as
            β → 0 the equilibrium's update tends to backprop's.
    """

    exact_gradient: ClassVar[bool] = False
    check_args: ClassVar = [
        {},
        {"steps": 3, "rate": 1.0, "fixed_prediction": True},
        {"steps": 5, "rate": 0.3, "output_weight": 0.01},
    ]

    def __init__(
        self,
        steps: int = 20,
        rate: float = 0.1,
        fixed_prediction: bool = False,
        output_weight: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(generator)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ConfigError(
                f"pc: steps={steps!r} must be an integer ≥ 1 (the inference steps per batch); "
                "set learning_rule.steps to 1 or more, e.g. 20."
            )
        if not _number_in(rate, 0, 2):
            raise ConfigError(
                f"pc: rate={rate!r} must be a number in (0, 2) (the inference rate: a node's "
                "own error is multiplied by 1 − rate at each step, so from 2 on it grows); "
                "set learning_rule.rate, e.g. 0.1."
            )
        if not _number_in(output_weight, 0, math.inf):
            raise ConfigError(
                f"pc: output_weight={output_weight!r} must be a positive number (β, the "
                "weight of the loss in the energy); set learning_rule.output_weight, e.g. 1."
            )
        self.output_weight = float(output_weight)
        self.steps = steps
        self.rate = float(rate)
        self.fixed_prediction = bool(fixed_prediction)
        #: Where each block of the attached model begins (its layer with parameters).
        self.starts: list[int] = []

    def attach(self, model: Sequential) -> None:
        for i, layer in _walk(model.layers):
            if layer.buffers or (isinstance(layer, Dropout) and layer.p > 0):
                raise ConfigError(
                    f"learning_rule: pc: layer {i} ({layer!r}) changes with each forward "
                    "(running statistics or a dropout mask), and pc runs every block's forward "
                    "once per inference step; expected a model without BatchNorm and dropout. "
                    "Fix: remove the layer, or use another learning_rule."
                )
        self.starts = _starts(model)
        if not self.starts:
            raise ConfigError(
                "learning_rule: pc: the model has no layer with parameters at its top level, so "
                "there is nothing to learn; expected layers such as linear or conv2d. Fix: add "
                "one, or use learning_rule: {type: backprop}."
            )

    def train_step(
        self, model: Sequential, loss: Loss, x: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor]:
        layers, starts = model.layers, _starts(model)
        blocks = [layers[a:b] for a, b in zip(starts, [*starts[1:], len(layers)], strict=True)]
        v = [_forward(layers[: starts[0]], x)]
        for block in blocks:
            v.append(_forward(block, v[-1]))
        out = v[-1]
        value = loss.forward(out, y)
        grad = loss.backward()
        # r: the loss's weight of one example's own loss (1/N for a mean); β: the output's.
        r, beta = reduction_factor(loss.reduction, x.shape[0]), self.output_weight
        # inputs[k], mu[k]: block k's input and prediction; nodes[k]: the value μ_k predicts
        # (blocks but the last).
        inputs, mu, nodes = v[:-1], v[1:], v[1:-1]
        for _ in range(self.steps):
            errors = [n - m for n, m in zip(nodes, mu[:-1], strict=True)]
            errors.append(grad.mul(-beta / r))
            for k in range(len(nodes) - 1, -1, -1):  # each error is used before it is sent
                sent = _backward(blocks[k + 1], errors[k + 1], True)
                nodes[k] = nodes[k] - self.rate * (errors[k] - sent)
            below = inputs if self.fixed_prediction else [inputs[0], *nodes]
            for k in range(1, len(blocks)):  # the first block's input is clamped
                mu[k] = _forward(blocks[k], below[k])
            loss.forward(mu[-1], y)
            grad = loss.backward()
        model.zero_grad()  # what the relaxation's backwards added
        for k in range(len(blocks) - 1, -1, -1):
            error = grad if k == len(nodes) else (mu[k] - nodes[k]).mul_(r / beta)
            _backward(blocks[k], error, False)
        return out, value

    def __repr__(self) -> str:
        nodes = f"; value nodes before layers {self.starts[1:]}" if len(self.starts) > 1 else ""
        return (
            f"PredictiveCoding(steps={self.steps}, rate={self.rate:g}, "
            f"fixed_prediction={self.fixed_prediction}, output_weight={self.output_weight:g}"
            f"{nodes})"
        )


def _starts(model: Sequential) -> list[int]:
    """Where each block begins: the positions of the model's layers with parameters."""
    return [i for i, layer in enumerate(model.layers) if layer.params]


def _number_in(value: object, low: float, high: float) -> bool:
    """Whether `value` is a number (not a bool) strictly between `low` and `high`."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low < value < high


def _forward(layers: Sequence[Layer], x: Tensor) -> Tensor:
    for layer in layers:
        x = layer.forward(x)
    return x


def _backward(layers: Sequence[Layer], grad: Tensor, input_grad: bool) -> Tensor:
    """The block's backward for the error `grad` at its output: its layers' parameter
    gradients, and the error at its input returned when `input_grad` (Jᵀ grad)."""
    for j in range(len(layers) - 1, -1, -1):
        sent = layers[j].backward(grad, input_grad or j > 0)
        if sent is not None:
            grad = sent
    return grad


def _walk(layers: Sequence[Layer], prefix: str = "") -> Iterator[tuple[str, Layer]]:
    """Every layer with its position ("3", nested "1.0"), depth first."""
    for i, layer in enumerate(layers):
        yield f"{prefix}{i}", layer
        yield from _walk(getattr(layer, "layers", ()), f"{prefix}{i}.")
