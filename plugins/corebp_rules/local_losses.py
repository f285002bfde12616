"""Local losses (Nøkland & Eidnes 2019, "Training neural networks with local error signals"):
the model is cut into blocks, and each hidden block trains on a loss of its own output h; no
error passes from a block to the one below it. The last block, which holds the output layer,
trains on the recipe's loss.

With ŷ = h_p P + c the block's auxiliary classifier (h_p: h, average-pooled for a conv map,
flattened) and y the batch's classes (one-hot Y):

    pred     L = CE(ŷ, y)                    (mean over the batch; sum if the recipe's loss is)
    sim      L = (1/N²) Σ_ij (S(h M)_ij − S(Y)_ij)²    (M: a learned D×D map; 3×3 conv for maps)
    predsim  L = (1 − β) pred + β sim

S(x) = clamp(x̂ x̂ᵀ, −1, 1), x̂_n = (x_n − mean(x_n)) / (1e-8 + ‖x_n − mean(x_n)‖): the cosine
similarities of the batch's examples; an (N, C, H, W) map with C > 3 and H·W > 1 is first
reduced to each channel's standard deviation over positions. All of this is the reference
code's (anokland/local-loss, train.py: LocalLossBlockLinear, LocalLossBlockConv,
similarity_matrix). The gradient of L is computed here by hand: dL/dh from the heads'
backward, then the block's own layers' backward; P, c and M are the rule's tensors, trained
by the run's optimizer.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, cast

import torch
from torch import Tensor

from corebp.contracts.choices import OneOf
from corebp.contracts.layer import Layer
from corebp.contracts.learning_rule import LearningRule
from corebp.contracts.loss import Loss
from corebp.errors import ConfigError, CorebpError
from corebp.layers import AvgPool2d, Conv2d, Linear
from corebp.layers.sequential import Sequential
from corebp.losses import CrossEntropyLoss, MSELoss
from corebp.training.distributed import world_size

#: The local losses, by name.
LOSSES = {
    "pred": "cross-entropy of an auxiliary linear classifier on the block's output",
    "sim": "similarity matching: the output's cosine-similarity matrix against the labels'",
    "predsim": "(1 − beta) pred + beta sim",
}
#: Added to the norm of each centred row in S (the reference's similarity_matrix).
EPS = 1e-8


def similarity(x: Tensor) -> tuple[Tensor, Any]:
    """S(x), the (N, N) similarities of the rows of x (a map reduced to its channels' standard
    deviations first), and what `similarity_backward` needs."""
    shape, std = x.shape, None
    if x.dim() == 4 and x.shape[1] > 3 and x.shape[2] * x.shape[3] > 1:
        z = x.flatten(2)
        s = z.std(2)
        std = (z - z.mean(2, keepdim=True), s)
        x = s
    x = x.flatten(1)
    xc = x - x.mean(1, keepdim=True)
    norm = xc.square().sum(1, keepdim=True).sqrt()
    d = norm + EPS
    xn = xc / d
    raw = xn.mm(xn.t())
    return raw.clamp(-1, 1), (shape, std, xc, norm, d, xn, raw)


def similarity_backward(ctx: Any, grad: Tensor) -> Tensor:
    """dL/dx for dL/dS = grad. A row without spread (or a channel without, for a map) gets 0,
    as torch's std gives; torch's sqrt would give NaN there."""
    shape, std, xc, norm, d, xn, raw = ctx
    grad = grad * ((raw >= -1) & (raw <= 1))
    gxn = (grad + grad.t()).mm(xn)
    along = (gxn * xc).sum(1, keepdim=True)
    gxc = gxn / d - xc * torch.where(norm > 0, along / (d.square() * norm), 0)
    gx = gxc - gxc.mean(1, keepdim=True)
    if std is not None:
        dev, s = std
        gx = torch.where(s > 0, gx / ((dev.shape[2] - 1) * s), 0).unsqueeze(2) * dev
    return gx.reshape(shape)


def decoder_pool(shape: tuple[int, ...], limit: int) -> AvgPool2d | None:
    """The reference's average pooling before a conv block's classifier: windows doubled in
    height, then width, until C·H'·W' ≤ limit (LocalLossBlockConv.__init__)."""
    c, h, w = shape
    kh = kw = 1
    oh, ow = h, w
    while c * oh * ow > limit and kh < h:
        kh *= 2
        oh = math.ceil(h / kh)
        if c * oh * ow > limit:
            kw *= 2
            ow = math.ceil(w / kw)
    if kh == kw == 1:
        return None
    return AvgPool2d((kh, kw), padding=((kh * (oh - h // kh)) // 2, (kw * (ow - w // kw)) // 2))


class Heads:
    """The local loss of one hidden block (model layers up to `end`), on its output h."""

    def __init__(
        self,
        end: int,
        shape: tuple[int, ...],
        classes: int,
        rule: LocalLosses,
        like: Tensor,
    ) -> None:
        self.end = end
        self.pool: AvgPool2d | None = None
        self.pred: Linear | None = None
        self.sim: Layer | None = None
        self.weights = {"pred": 1 - rule.beta, "sim": rule.beta} if rule.loss == "predsim" else {}
        self.layers: dict[str, Layer] = {}
        if rule.loss != "sim":
            if len(shape) == 3:
                self.pool = decoder_pool(shape, rule.dim_in_decoder)
            features = math.prod(shape)
            if self.pool is not None:
                features = self.pool.forward(like.new_zeros((1, *shape))).numel()
            # Zero weights, as the reference's decoder_y (its bias: torch's uniform; here 0).
            self.pred = self.layers["pred"] = Linear(features, classes, init="zeros")
        if rule.loss != "pred":
            g = rule.generator
            self.sim = self.layers["sim"] = (
                Linear(shape[0], shape[0], bias=False, generator=g)
                if len(shape) == 1
                else Conv2d(shape[0], shape[0], 3, padding=1, bias=False, generator=g)
            )
        for layer in self.layers.values():
            layer.to(like.device, like.dtype)
        self.mse = MSELoss()

    def named(self) -> dict[str, tuple[Tensor, Tensor]]:
        """{"pred.<end>.W": (tensor, its gradient), ...}: the heads' tensors."""
        return {
            f"{kind}.{self.end}.{name}": (p, g)
            for kind, layer in self.layers.items()
            for name, p, g in layer.named_params()
        }

    def grad(self, h: Tensor, y: Tensor, target_similarity: Tensor | None, ce: Loss) -> Tensor:
        """dL/dh of the block's local loss L on output h (S(Y) given for sim; pred's
        cross-entropy `ce`), the heads' gradients added to theirs."""
        parts: list[Tensor] = []
        if self.pred is not None:
            p = h if self.pool is None else self.pool.forward(h)
            ce.forward(self.pred.forward(p.flatten(1)), y)
            g = _input_grad(self.pred, self._weighted("pred", ce.backward())).view(p.shape)
            parts.append(g if self.pool is None else _input_grad(self.pool, g))
        if self.sim is not None and target_similarity is not None:
            S, ctx = similarity(self.sim.forward(h))
            self.mse.forward(S, target_similarity)
            g = similarity_backward(ctx, self._weighted("sim", self.mse.backward()))
            parts.append(_input_grad(self.sim, g))
        return parts[0] if len(parts) == 1 else parts[0] + parts[1]

    def _weighted(self, kind: str, grad: Tensor) -> Tensor:
        w = self.weights.get(kind)
        return grad if w is None else grad.mul_(w)


class LocalLosses(LearningRule):
    """local: each hidden block trains on a local loss of its output; the last on the task's.

    Args:
        loss: the hidden blocks' loss: pred (an auxiliary linear classifier's cross-entropy),
            sim (similarity matching) or predsim ((1 − beta) pred + beta sim), as the
            reference's --loss-sup.
        beta: the weight of sim in predsim, in [0, 1]; the reference's default 0.99.
        blocks: the position in the model of each hidden block's last layer, increasing;
            the layers after the last one are the output block, trained on the recipe's loss.
            null: a block ends after the first parameter-free layer (the nonlinearity) that
            follows each layer with parameters, but for the last; []: one block, the whole
            model (backprop).
        dim_in_decoder: for a block whose output is a (C, H, W) map: the most features the
            pred classifier reads; the map is average-pooled down to it first (the
            reference's --dim-in-decoder).
        input_shape: one example's shape, e.g. [1, 28, 28], to size the heads; null: the
            first layer's in_features (a model that starts with a Linear).
    """

    exact_gradient: ClassVar[bool] = False
    check_args: ClassVar = [
        {},
        {"loss": "pred"},
        {"loss": "sim", "blocks": [1]},
        {"loss": "predsim", "beta": 0.5, "dim_in_decoder": 8, "input_shape": [6]},
    ]

    def __init__(
        self,
        loss: Annotated[str, OneOf(LOSSES)] = "predsim",
        beta: float = 0.99,
        blocks: list[int] | None = None,
        dim_in_decoder: int = 4096,
        input_shape: list[int] | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(generator)
        if loss not in LOSSES:
            raise ConfigError(
                f"local: loss={loss!r} is not one of {', '.join(LOSSES)}; set "
                "learning_rule.loss to one of them (predsim is the reference's default)."
            )
        if not 0 <= beta <= 1:
            raise ConfigError(
                f"local: beta={beta!r} must be in [0, 1] (the weight of sim in predsim); set "
                "learning_rule.beta, e.g. 0.99 (the reference's)."
            )
        if dim_in_decoder < 1:
            raise ConfigError(
                f"local: dim_in_decoder={dim_in_decoder!r} must be a positive integer; set "
                "learning_rule.dim_in_decoder, e.g. 4096 (the reference's)."
            )
        if input_shape is not None and (not input_shape or min(input_shape) < 1):
            raise ConfigError(
                f"local: input_shape={input_shape!r} must be one example's shape, positive "
                "sizes, e.g. [1, 28, 28]; set learning_rule.input_shape or leave it null."
            )
        processes = world_size()
        if loss != "pred" and processes > 1:
            raise ConfigError(
                f"local: loss={loss!r} does not train data-parallel (this run has {processes} "
                "processes): its sim loss compares every pair of examples in a batch, and a "
                "process sees only its share of the batch; set learning_rule.loss=pred, or run "
                "without torchrun."
            )
        self.loss, self.beta, self.dim_in_decoder = loss, float(beta), dim_in_decoder
        self.blocks, self.input_shape = blocks, input_shape
        self.heads: list[Heads] = []
        self.grads: dict[str, Tensor] = {}
        #: The model's outputs per example (the classes), found by `attach`.
        self.classes = 0

    # -- the split --------------------------------------------------------------------------
    def attach(self, model: Sequential) -> None:
        learns = [bool(layer.params) for layer in model.layers]
        if not any(learns):
            raise ConfigError(
                "learning_rule: local trains layers with parameters, and the model has none; "
                "add a linear or conv2d layer, or use another learning_rule."
            )
        ends = self._ends(learns)
        if not ends:
            return
        shapes, self.classes, like = self._probe(model, ends)
        self.heads = [Heads(end, shapes[end], self.classes, self, like) for end in ends]
        for head in self.heads:
            for name, (p, g) in head.named().items():
                self.params[name], self.grads[name] = p, g

    def _ends(self, learns: list[bool]) -> list[int]:
        """The position of each hidden block's last layer (checked against the model)."""
        last = max(i for i, learn in enumerate(learns) if learn)
        if self.blocks is None:
            # a parameter-free layer right after layers with parameters ends a block
            ends = [i for i in range(1, last) if learns[i - 1] and not learns[i]]
            if not ends:
                raise ConfigError(
                    "learning_rule: local found no hidden block in the model (a layer with "
                    "parameters, then a parameter-free one, below the last layer with "
                    "parameters); add a hidden layer, or set learning_rule.blocks=[] to train "
                    "the whole model on the recipe's loss."
                )
            return ends
        ends = list(self.blocks)
        n = len(learns)
        bad = [e for e in ends if not 0 <= e < n - 1]
        if bad or ends != sorted(set(ends)):
            raise ConfigError(
                f"learning_rule.blocks: {ends} must be increasing positions of layers in the "
                f"model, from 0 to {n - 2} (a block's last layer; the output block follows); "
                "fix learning_rule.blocks, or set it to null for one block per layer."
            )
        for a, b in zip([0, *[e + 1 for e in ends]], [*ends, n - 1], strict=True):
            if not any(learns[a : b + 1]):
                raise ConfigError(
                    f"learning_rule.blocks: {ends} gives a block (layers {a} to {b}) without "
                    "a layer with parameters, which has nothing to train; end each block after "
                    "a layer with parameters, or set learning_rule.blocks to null."
                )
        return ends

    def _probe(
        self, model: Sequential, ends: list[int]
    ) -> tuple[dict[int, tuple[int, ...]], int, Tensor]:
        """Each hidden block's output shape (one example), the number of classes (the
        model's outputs), and a tensor of the model's device and dtype: from one zero
        example pushed through the model in eval mode."""
        like = next(iter(model.params.values()))
        shape = self.input_shape
        if shape is None:
            first = model.layers[0]
            if not isinstance(first, Linear):
                raise ConfigError(
                    f"learning_rule.input_shape: null, but the model starts with {first!r}, "
                    "so the local heads' sizes are unknown; set learning_rule.input_shape to "
                    "one example's shape, e.g. [1, 28, 28]."
                )
            shape = [first.in_features]
        x = like.new_zeros((1, *shape))
        shapes: dict[int, tuple[int, ...]] = {}
        training = model.training
        model.eval()
        try:
            for i, layer in enumerate(model.layers):
                x = layer.forward(x)
                shapes[i] = tuple(x.shape[1:])
        except CorebpError as e:
            raise ConfigError(
                f"learning_rule.input_shape: one example of shape {list(shape)} does not fit "
                f"the model (layer {i}: {e}); set it to the data's input shape."
            ) from None
        finally:
            model.train(training)
        odd = [e for e in ends if len(shapes[e]) not in (1, 3)]
        if odd:
            raise ConfigError(
                f"learning_rule.blocks: the block ending at layer {odd[0]} gives outputs of "
                f"shape {shapes[odd[0]]}; local takes (features,) or (channels, height, width); "
                "end the block at another layer."
            )
        return shapes, math.prod(x.shape[1:]), like

    # -- the step ---------------------------------------------------------------------------
    def train_step(
        self, model: Sequential, loss: Loss, x: Tensor, y: Tensor
    ) -> tuple[Tensor, Tensor]:
        for g in self.grads.values():
            g.zero_()
        target = self._target_similarity(y) if self.loss != "pred" and self.heads else None
        # reduced as the recipe's loss, as the data-parallel all-reduce combines the ranks'
        ce = CrossEntropyLoss(loss.reduction)
        h, start = x, 0
        for head in self.heads:
            h = _forward(model, start, head.end, h)
            _backward(model, start, head.end, head.grad(h, y, target, ce))
            start = head.end + 1
        out = _forward(model, start, len(model.layers) - 1, h)
        value = loss.forward(out, y)
        _backward(model, start, len(model.layers) - 1, loss.backward())
        return out, value

    def _target_similarity(self, y: Tensor) -> Tensor:
        """S(Y) for the batch's one-hot classes Y (a float target as it is)."""
        like = next(iter(self.params.values()))
        if y.dtype.is_floating_point:
            return similarity(y.flatten(1).to(like.dtype))[0]
        return similarity(torch.nn.functional.one_hot(y.long(), self.classes).to(like.dtype))[0]

    def __repr__(self) -> str:
        ends = [h.end for h in self.heads] if self.heads or self.blocks is not None else None
        return f"LocalLosses(loss={self.loss!r}, beta={self.beta:g}, blocks={ends})"


def _input_grad(layer: Layer, grad: Tensor) -> Tensor:
    """The layer's backward (its parameters' gradients added), dL/dx."""
    return cast(Tensor, layer.backward(grad, True))


def _forward(model: Sequential, a: int, b: int, x: Tensor) -> Tensor:
    """Layers a..b of the model, forward."""
    for i in range(a, b + 1):
        try:
            x = model.layers[i].forward(x)
        except Exception as e:
            model._raise_in(i, "forward", e)
    return x


def _backward(model: Sequential, a: int, b: int, grad: Tensor) -> None:
    """Layers b..a of the model, backward from dL/d(output of b); no error leaves layer a.
    Each layer returns dL/dx only if a layer below it in the block learns."""
    layers = model.layers
    g: Tensor | None = grad
    for i in range(b, a - 1, -1):
        if g is None:
            break
        try:
            g = layers[i].backward(g, any(layer.params for layer in layers[a:i]))
        except Exception as e:
            model._raise_in(i, "backward", e)
