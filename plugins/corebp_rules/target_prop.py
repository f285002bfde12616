"""Difference target propagation (Lee, Zhang, Fischer & Bengio 2015, "Difference Target
Propagation"): every hidden layer learns to move its output towards a target, and the targets
are carried down by learned approximate inverses g_l of the layers, not by the chain rule.

The model is read as blocks: h_l = f_l(h_{l−1}), f_l a Linear followed by element-wise
activations (h_0 = x), l = 1 … L−1 hidden, and the output block (the last Linear and whatever
follows it) gives the outputs. For a batch:

    ĥ_{L−1} = h_{L−1} − η̂ · ∂ℓ_n/∂h_{L−1}                  (ℓ_n: example n's own loss)
    ĥ_{l−1} = h_{l−1} + g_l(ĥ_l) − g_l(h_l)                  (the difference correction)
    output block:  the true gradient of the recipe's loss, by its layers' own backward
    hidden block:  L_l = R_n ‖f_l(h_{l−1}) − ĥ_l‖²,  ∂L_l/∂h_l = 2 (h_l − ĥ_l) [/ N],
                   through block l's own backward only (no error crosses a block)
    inverse g_l:   L_l^inv = R_n ‖g_l(f_l(h_{l−1} + ε)) − (h_{l−1} + ε)‖²,  ε ~ N(0, σ²),
                   one plain SGD step at rate `inverse_lr`, in the step itself

R_n is the recipe loss's reduction over the batch (mean: / N, sum). g_l = Linear(d_l → d_{l−1})
followed by copies of block l−1's activations (tanh for a tanh net, as the authors' code);
block 1 has no inverse (no target is needed for x). The forward blocks are then updated by the
run's optimizer from `model.grads`. The authors' code is donghyunlee/dtp, conti_dtp.py (the
targets H7_ … H1_, the corrupted pairs, `mse` summed over units and averaged over the batch,
the output layer trained on the cost); what differs from it is in docs/learning-rules.md.
"""

from __future__ import annotations

import copy
from itertools import pairwise
from typing import ClassVar, cast

import torch
from torch import Tensor

from corebp.contracts.layer import Layer, Wrapper
from corebp.contracts.learning_rule import LearningRule
from corebp.contracts.loss import Loss
from corebp.errors import ConfigError
from corebp.layers import LeakyReLU, Linear, ReLU, Sigmoid, Tanh
from corebp.layers.sequential import Sequential
from corebp.training.distributed import world_size

#: The element-wise activations a hidden block may have after its Linear (their inverse's too).
ELEMENTWISE = (Tanh, Sigmoid, ReLU, LeakyReLU)


def _unwrapped(layer: Layer) -> Layer:
    """The layer inside any stand-ins and taps around it."""
    while isinstance(layer, Wrapper):
        layer = layer.layer
    return layer


class DifferenceTargetPropagation(LearningRule):
    """dtp: hidden layers trained towards targets carried down by learned inverses.

    Applies to models made of Linear layers, each hidden one followed by element-wise
    activations (tanh, sigmoid, relu, leaky_relu), with at least one hidden layer; the output
    block (the last Linear and any layers after it) learns from the loss's true gradient.

    Args:
        target_step: η̂, the step of the top target ĥ = h − η̂ ∂ℓ_n/∂h against each example's
            own loss gradient at the last hidden layer, ≥ 0.
        noise: σ, the standard deviation of the Gaussian noise added to h_{l−1} when the
            inverses are trained, ≥ 0.
        inverse_lr: the learning rate of the plain SGD step the inverses take each update,
            ≥ 0 (0: the inverses stay as drawn).
    """

    exact_gradient: ClassVar[bool] = False
    check_args: ClassVar = [{}, {"target_step": 0.5, "noise": 0.3, "inverse_lr": 0.05}]

    def __init__(
        self,
        target_step: float = 0.1,
        noise: float = 0.1,
        inverse_lr: float = 0.01,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(generator)
        for name, value in (
            ("target_step", target_step),
            ("noise", noise),
            ("inverse_lr", inverse_lr),
        ):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ConfigError(
                    f"dtp: {name}={value!r} must be a number ≥ 0; set learning_rule.{name} "
                    "to one (docs/learning-rules.md#dtp gives the defaults)."
                )
        processes = world_size()
        if processes > 1:
            raise ConfigError(
                f"dtp does not train data-parallel (this run has {processes} processes): each "
                "rank would draw the inverses' noise for its own slice of the batch from the "
                "same generator, so the ranks would not reproduce one process's update; run "
                "dtp in one process (without torchrun)."
            )
        self.target_step, self.sigma, self.inverse_lr = (
            float(target_step),
            float(noise),
            float(inverse_lr),
        )
        #: Each hidden block's [start, stop) positions in the model, then the output block's start.
        self.blocks: list[tuple[int, int]] = []
        self.output_start = 0
        #: The inverse g_l of hidden block l ≥ 2, by the position of block l's Linear.
        self.inverses: dict[int, Sequential] = {}
        #: The last step's target ĥ_l of each hidden block, by the position of its Linear.
        self.targets: dict[int, Tensor] = {}

    def attach(self, model: Sequential) -> None:
        layers = [_unwrapped(layer) for layer in model.layers]
        linear = [i for i, layer in enumerate(layers) if isinstance(layer, Linear)]
        for i, layer in enumerate(layers[: linear[-1] if linear else len(layers)]):
            supported = isinstance(layer, Linear) or (isinstance(layer, ELEMENTWISE) and i > 0)
            if not supported:
                raise ConfigError(
                    f"learning_rule: dtp applies to Linear layers each followed by element-wise "
                    f"activations (tanh, sigmoid, relu, leaky_relu), but model.{i} is "
                    f"{layer!r}, for which it has no inverse; use another learning_rule (such "
                    "as backprop or fa) for this model."
                )
        if len(linear) < 2:
            raise ConfigError(
                f"learning_rule: dtp needs a hidden layer to send a target to, and the model has "
                f"{len(linear)} Linear layer(s), so the output layer is all there is; use "
                "learning_rule: {type: backprop}, or add a hidden layer."
            )
        self.blocks = list(pairwise(linear))
        self.output_start = linear[-1]
        for below, start in pairwise(linear[:-1]):
            W = layers[start].params["W"]
            inverse = Linear(
                W.shape[1],
                W.shape[0],
                init="xavier",
                dtype=W.dtype,
                device=W.device,
                generator=self.generator,
            )
            activations = [copy.deepcopy(layer) for layer in layers[below + 1 : start]]
            self.inverses[start] = Sequential(inverse, *activations)

    def train_step(
        self, model: Sequential, loss: Loss, x: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor]:
        layers = model.layers
        for g in self.inverses.values():
            g.zero_grad()
        hs = [x]  # h_0 = x, then every hidden block's output
        for start, stop in self.blocks:
            hs.append(_run(layers[start:stop], hs[-1]))
        out = _run(layers[self.output_start :], hs[-1])
        value = loss.forward(out, y)
        grad = Loss.backward(loss)
        for layer in reversed(layers[self.output_start :]):
            grad = cast(Tensor, layer.backward(grad, True))
        mean = loss.reduction != "sum"
        n = x.shape[0]
        # ∂ℓ_n/∂h: a mean loss's gradient is each example's own divided by N.
        target = hs[-1] - (self.target_step * n if mean else self.target_step) * grad
        scale = 2 / n if mean else 2.0
        for k in range(len(self.blocks), 0, -1):
            start, stop = self.blocks[k - 1]
            h = hs[k]
            self.targets[start] = target
            local = (h - target).mul_(scale)
            for i in range(stop - 1, start, -1):
                local = cast(Tensor, layers[i].backward(local, True))
            layers[start].backward(local, False)
            inverse = self.inverses.get(start)
            if inverse is not None:
                target = hs[k - 1] + inverse.forward(target) - inverse.forward(h)
        self._train_inverses(layers, hs, scale)
        return out, value

    def _train_inverses(self, layers: list[Layer], hs: list[Tensor], scale: float) -> None:
        """One SGD step of every inverse on its reconstruction of noise-corrupted h_{l−1}."""
        for k, (start, stop) in enumerate(self.blocks, 1):
            inverse = self.inverses.get(start)
            if inverse is None:
                continue
            below = hs[k - 1]
            noise = torch.randn(below.shape, generator=self.generator)
            corrupted = below + noise.to(below.device, below.dtype).mul_(self.sigma)
            reconstructed = inverse.forward(_run(layers[start:stop], corrupted))
            inverse.backward((reconstructed - corrupted).mul_(scale), False)
            with torch.no_grad():
                for p, g in zip(inverse.params.values(), inverse.grads.values(), strict=True):
                    p.sub_(g, alpha=self.inverse_lr)

    def state_dict(self) -> dict[str, Tensor]:
        return super().state_dict() | {
            f"inverse.{start}.{name}": p
            for start, g in self.inverses.items()
            for name, p in g.layers[0].params.items()
        }

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        own = {k: p for k, p in self.state_dict().items() if k != "generator"}
        missing = sorted(own.keys() - state.keys())
        if missing:
            raise ConfigError(
                f"DifferenceTargetPropagation.load_state_dict: the state has no "
                f"{', '.join(map(repr, missing))}; expected a dict from state_dict() of dtp "
                "on the same model (a checkpoint's 'learning_rule')."
            )
        super().load_state_dict(state)
        with torch.no_grad():
            for k, p in own.items():
                p.copy_(state[k])

    def __repr__(self) -> str:
        inverses = ", ".join(
            f"{start}: " + " + ".join(map(repr, g.layers)) for start, g in self.inverses.items()
        )
        return (
            f"DifferenceTargetPropagation(target_step={self.target_step:g}, "
            f"noise={self.sigma:g}, inverse_lr={self.inverse_lr:g}, "
            f"inverses={{{inverses}}})"
        )


def _run(layers: list[Layer], x: Tensor) -> Tensor:
    """x through `layers`' forwards, in order."""
    for layer in layers:
        x = layer.forward(x)
    return x
