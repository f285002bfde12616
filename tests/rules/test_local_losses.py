"""Local losses (`local`, plugins/corebp_rules/local_losses.py): each block's hand-written
gradient against autograd of the reference code's loss, in float64; one block is backprop bit
for bit; no error crosses a block; validation, resume and alignment (data parallelism:
tests/distributed/test_local_data_parallel.py)."""

from __future__ import annotations

import json
import re

import pytest
import torch
import torch.nn.functional as F
from corebp_optim.adam import Adam
from corebp_rules import LocalLosses

from corebp.checks.alignment import AlignmentCheck
from corebp.layers import Conv2d, Flatten, Linear, MaxPool2d, ReLU, Tanh
from corebp.layers.sequential import Sequential
from corebp.losses import CrossEntropyLoss
from corebp.recipe import load_recipe
from corebp.training.run import run_recipe
from tests.recipes.conftest import write_synthetic_recipe
from tests.recipes.test_resume import (
    RECIPE,
    assert_rule_resumes_exactly,
)

CLASSES = 4


def mlp(seed: int = 0) -> Sequential:
    torch.manual_seed(seed)
    return Sequential(
        Linear(6, 7, init="xavier"), Tanh(), Linear(7, 5, init="xavier"), Tanh(), Linear(5, 4)
    ).to(dtype=torch.float64)


def convnet(seed: int = 0) -> Sequential:
    torch.manual_seed(seed)
    return Sequential(
        Conv2d(1, 5, 3), ReLU(), MaxPool2d(2), Conv2d(5, 6, 3, padding=1), ReLU(), Flatten(),
        Linear(6 * 4 * 4, 8), ReLU(), Linear(8, CLASSES),
    ).to(dtype=torch.float64)  # fmt: skip


MODELS = {"mlp": (mlp, [6]), "conv": (convnet, [1, 10, 10])}


def batch(shape: list[int], step: int = 0, n: int = 9) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(100 + step)
    x = torch.randn(n, *shape, generator=g, dtype=torch.float64)
    return x, torch.randint(0, CLASSES, (n,), generator=g)


def rule_for(model: Sequential, shape: list[int], **args) -> LocalLosses:
    rule = LocalLosses(generator=torch.Generator().manual_seed(3), input_shape=shape, **args)
    rule.attach(model)
    return rule


# -- the reference code's losses, differentiated by autograd -----------------------------------
def similarity_matrix(x: torch.Tensor) -> torch.Tensor:
    """anokland/local-loss, train.py: similarity_matrix (with its default --similarity-std)."""
    if x.dim() == 4:
        if x.size(1) > 3 and x.size(2) > 1:
            x = x.view(x.size(0), x.size(1), -1).std(dim=2)
        else:
            x = x.view(x.size(0), -1)
    xc = x - x.mean(dim=1).unsqueeze(1)
    xn = xc / (1e-8 + torch.sqrt(torch.sum(xc**2, dim=1))).unsqueeze(1)
    return xn.matmul(xn.transpose(1, 0)).clamp(-1, 1)


def local_loss(rule: LocalLosses, head, h: torch.Tensor, y: torch.Tensor, params) -> torch.Tensor:
    """LocalLossBlockLinear/Conv.forward's loss_sup, on block output h."""
    pred = sim = torch.zeros((), dtype=h.dtype)
    if head.pred is not None:
        p = h if head.pool is None else head.pool.reference(h, {})
        logits = p.flatten(1) @ params[f"pred.{head.end}.W"] + params[f"pred.{head.end}.b"]
        pred = F.cross_entropy(logits, y)
    if head.sim is not None:
        z = head.sim.reference(h, {"W": params[f"sim.{head.end}.W"]})
        sim = F.mse_loss(similarity_matrix(z), similarity_matrix(F.one_hot(y, CLASSES).double()))
    weights = {"pred": (1.0, 0.0), "sim": (0.0, 1.0), "predsim": (1 - rule.beta, rule.beta)}
    a, b = weights[rule.loss]
    return a * pred + b * sim


def autograd_grads(model: Sequential, rule: LocalLosses, x, y) -> dict[str, torch.Tensor]:
    """Each block's parameters' (and heads') gradients of its own loss, the input detached."""
    params = {k: p.detach().clone().requires_grad_() for k, p in model.params.items()}
    own = {k: p.detach().clone().requires_grad_() for k, p in rule.params.items()}
    ends = [h.end for h in rule.heads] + [len(model.layers) - 1]
    h, start, grads = x, 0, {}
    for k, end in enumerate(ends):
        h = h.detach()
        for i in range(start, end + 1):
            mine = {n.split(".", 1)[1]: p for n, p in params.items() if n.split(".")[0] == str(i)}
            h = model.layers[i].reference(h, mine)
        if k < len(rule.heads):
            loss = local_loss(rule, rule.heads[k], h, y, own)
        else:
            loss = F.cross_entropy(h, y)
        block = {n: p for n, p in params.items() if start <= int(n.split(".")[0]) <= end}
        block |= {n: p for n, p in own.items() if k < len(rule.heads) and f".{end}." in n}
        found = torch.autograd.grad(loss, list(block.values()))
        grads |= dict(zip(block, found, strict=True))
        start = end + 1
    return grads


@pytest.mark.parametrize("loss", ["pred", "sim", "predsim"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_each_local_loss_gives_autograds_gradient_of_the_reference_loss_float64(name, loss):
    build, shape = MODELS[name]
    model = build()
    rule = rule_for(model, shape, loss=loss, beta=0.7, dim_in_decoder=40)
    with torch.no_grad():  # the reference's zero classifier would give the blocks no error
        for p in rule.params.values():
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(5)))
    x, y = batch(shape)
    rule.train_step(model, CrossEntropyLoss(), x, y)
    want = autograd_grads(model, rule, x, y)
    got = dict(model.grads) | dict(rule.grads)
    assert got.keys() == want.keys()
    for k, t in want.items():
        assert (got[k] - t).norm() <= 1e-12 * t.norm(), k
        assert t.norm() > 0, k


def test_a_conv_blocks_pred_head_reads_the_map_average_pooled_as_the_reference_does():
    model = convnet()
    rule = rule_for(model, [1, 10, 10], loss="pred", dim_in_decoder=40)
    # block 0: 5×8×8 = 320 > 40 → windows 2×1 (5×4×8 = 160), 2×2 (80), 4×2 (5×2×4 = 40)
    assert [h.end for h in rule.heads] == [1, 4, 7]
    assert rule.heads[0].pool.kernel_size == (4, 2)
    assert rule.params["pred.1.W"].shape == (40, CLASSES)
    assert rule.params["pred.7.W"].shape == (8, CLASSES) and rule.heads[2].pool is None


def training(model, rule, loss, steps: int, shape: list[int]) -> None:
    optimizer = Adam(model.params, model.grads, lr=0.01)
    if rule is not None:
        optimizer.include(rule.params, rule.grads)
    for step in range(steps):
        x, y = batch(shape, step)
        if rule is None:
            loss.forward(model.forward(x), y)
            model.backward(loss.backward(), False)
        else:
            rule.train_step(model, loss, x, y)
        optimizer.step()
        model.zero_grad()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_one_block_over_the_whole_model_is_backprop_bit_for_bit(name):
    build, shape = MODELS[name]
    loss = CrossEntropyLoss()
    model, plain = build(), build()
    rule = rule_for(model, shape, blocks=[])
    assert rule.params == {}
    x, y = batch(shape)
    out, value = rule.train_step(model, loss, x, y)
    want_out = plain.forward(x)
    want_value = loss.forward(want_out, y)
    plain.backward(loss.backward(), False)
    assert torch.equal(out, want_out) and torch.equal(value, want_value)
    for k, g in plain.grads.items():
        assert torch.equal(model.grads[k], g), k
    model.zero_grad()
    plain.zero_grad()
    training(model, rule, loss, 5, shape)
    training(plain, None, loss, 5, shape)
    for k, p in plain.params.items():
        assert torch.equal(model.params[k], p), k


def test_one_block_runs_are_backprop_runs_bit_for_bit(tmp_path):
    path = write_synthetic_recipe(tmp_path / "r.yaml", "checks.autograd=null")
    for rule in ("backprop", "local"):
        args = ["learning_rule.type=" + rule] + (["learning_rule.blocks=[]"] * (rule == "local"))
        run_recipe(load_recipe(str(path), args), tmp_path / rule)
    a = torch.load(tmp_path / "local" / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "backprop" / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], t) for k, t in b.items())


@pytest.mark.parametrize("loss", ["pred", "sim", "predsim"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_no_error_passes_between_blocks_a_blocks_update_ignores_the_layers_above(name, loss):
    build, shape = MODELS[name]
    model, other = build(), build()
    rule, rule2 = rule_for(model, shape, loss=loss), rule_for(other, shape, loss=loss)
    with torch.no_grad():
        for k in rule.params:  # the same heads (non-zero, so that pred sends an error)
            rule.params[k].copy_(torch.randn(rule.params[k].shape))
            rule2.params[k].copy_(rule.params[k])
    end = rule.heads[0].end
    for i in range(end + 1, len(other.layers)):  # every layer above block 0, redrawn
        layer = other.layers[i]
        for p in layer.params.values():
            p.data = torch.randn_like(p) * 3
        other.replace(i, layer)
    x, y = batch(shape)
    rule.train_step(model, CrossEntropyLoss(), x, y)
    rule2.train_step(other, CrossEntropyLoss(), x, y)
    below = [k for k in model.grads if int(k.split(".")[0]) <= end]
    assert below and all(torch.equal(model.grads[k], other.grads[k]) for k in below)
    for k in rule.grads:
        same = torch.equal(rule.grads[k], rule2.grads[k])
        assert same == (f".{end}." in k), k
    assert all(model.grads[k].norm() > 0 for k in below)


def test_the_rules_tensors_are_zeroed_each_step_not_accumulated():
    model = mlp()
    rule = rule_for(model, [6], loss="sim")
    x, y = batch([6])
    rule.train_step(model, CrossEntropyLoss(), x, y)
    first = {k: g.clone() for k, g in rule.grads.items()}
    held = dict(rule.grads)
    model.zero_grad()
    rule.train_step(model, CrossEntropyLoss(), x, y)
    assert all(rule.grads[k] is held[k] for k in held)  # in place: data parallelism's buffer
    assert all(torch.equal(rule.grads[k], g) for k, g in first.items())


def test_alignment_under_local_measures_every_layer_the_output_layer_gets_the_true_gradient():
    model, loss = mlp(), CrossEntropyLoss()
    rule = rule_for(model, [6], loss="predsim")
    check = AlignmentCheck(model, loss, rule, every=1)
    with torch.no_grad():
        for p in rule.params.values():
            p.copy_(torch.randn(p.shape))
    x, y = batch([6])
    rule.train_step(model, loss, x, y)
    angles = check.measure(x, y)
    assert set(angles) == {"0.W", "2.W", "4.W"}
    assert angles["4.W"]["update_vs_gradient"] == pytest.approx(0, abs=1e-4)
    assert angles["4.W"]["error_vs_backprop"] == pytest.approx(0, abs=1e-4)
    for name in ("0.W", "2.W"):
        assert 1 < angles[name]["update_vs_gradient"] < 179
        assert 1 < angles[name]["error_vs_backprop"] < 179


def test_a_run_with_alignment_checks_records_every_layer(tmp_path):
    path = write_synthetic_recipe(
        tmp_path / "r.yaml",
        "learning_rule={type: local}",
        "checks={alignment: {every: 5}}",
    )
    run_recipe(load_recipe(str(path)), tmp_path / "run")
    layers = json.loads((tmp_path / "run" / "summary.json").read_text())["alignment"]["layers"]
    assert set(layers) == {"0.W", "2.W"}
    assert all("update_vs_gradient" in found for found in layers.values())


def test_a_local_run_stopped_mid_epoch_resumes_exactly(tmp_path):
    path = tmp_path / "rule.yaml"
    path.write_text(RECIPE + "learning_rule: {type: local, loss: predsim}\n")
    state = assert_rule_resumes_exactly(path, tmp_path)
    assert {"pred.1.W", "sim.1.W", "pred.4.W", "sim.4.W"} <= state.keys()


CONV_MODEL = (
    "model=[{type: conv2d, in_channels: 1, out_channels: 2, kernel_size: 3}, {type: relu}, "
    "{type: flatten}, {type: linear, in_features: 2, out_features: 3}]"
)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["learning_rule.beta=-0.5"], r"beta=-0\.5 must be in \[0, 1\].*learning_rule\.beta"),
        (
            ["learning_rule.loss=mse"],
            r"loss='mse' is not one of pred, sim, predsim; set learning_rule\.loss",
        ),
        (["learning_rule.blocks=[3]"], r"learning_rule\.blocks: \[3\] must be increasing"),
        (["learning_rule.blocks=[1, 1]"], r"learning_rule\.blocks: \[1, 1\] must be increasing"),
        (["learning_rule.blocks=[0, 1]"], r"block \(layers 1 to 1\) without a layer with param"),
        (["learning_rule.dim_in_decoder=0"], r"dim_in_decoder=0 must be a positive integer"),
        (["learning_rule.input_shape=[2, 0]"], r"input_shape=\[2, 0\] must be one example's"),
        (["learning_rule.input_shape=[5]"], r"learning_rule\.input_shape: one example of shape"),
        ([CONV_MODEL], r"learning_rule\.input_shape: null, but the model starts with Conv2d"),
        (
            ["model=[{type: linear, in_features: 2, out_features: 3}]"],
            r"local found no hidden block.*learning_rule\.blocks=\[\]",
        ),
    ],
)
def test_validate_refuses_bad_arguments_before_writing_naming_the_key(
    overrides, message, tmp_path, corebp_cli
):
    path = write_synthetic_recipe(tmp_path / "r.yaml", "learning_rule={type: local}")
    code, out, err = corebp_cli("validate", str(path), *overrides)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert lines[0].startswith("corebp: error: ") and "Traceback" not in err, err
    assert re.search(message, err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.yaml"]


def test_a_model_without_parameters_is_refused():
    from corebp.errors import ConfigError

    with pytest.raises(ConfigError, match=r"local trains layers with parameters, and the model"):
        LocalLosses().attach(Sequential(Tanh()))
