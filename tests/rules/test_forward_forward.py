"""Forward-forward (plugins/corebp_rules/forward_forward.py): each layer's update against
autograd of its own goodness loss in float64, the label search against its definition, the
negatives, validation, resume and data parallelism."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest
import torch
import yaml
from corebp_rules import ForwardForward
from omegaconf import OmegaConf

from corebp.errors import ConfigError
from corebp.layers import Conv2d, Flatten, Linear, ReLU
from corebp.layers.sequential import Sequential
from corebp.losses import CrossEntropyLoss
from corebp.recipe import load_recipe
from corebp.training.run import run_recipe
from tests.recipes.test_resume import (
    RECIPE,
    assert_rule_resumes_exactly,
)

C = 4  # classes of the small problems


def net(seed: int = 0, sizes: tuple[int, ...] = (12, 9, 8, 7)) -> Sequential:
    """A 3-layer Linear+ReLU net in float64."""
    torch.manual_seed(seed)
    layers: list = []
    for n_in, n_out in pairwise(sizes):
        layers += [Linear(n_in, n_out, init="xavier"), ReLU()]
    return Sequential(*layers).to(dtype=torch.float64)


def batch(n: int = 16, features: int = 12, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g, dtype=torch.float64)
    return x, torch.randint(0, C, (n,), generator=g)


def rule(**args) -> ForwardForward:
    return ForwardForward(classes=C, generator=torch.Generator().manual_seed(7), **args)


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def reference_grads(
    model: Sequential, x: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, r: ForwardForward
) -> dict[str, torch.Tensor]:
    """Autograd of each layer's goodness loss with respect to that layer's parameters, its
    input a constant (the previous layer's output, detached, divided by its length)."""
    grads: dict[str, torch.Tensor] = {}
    h = r.embed(torch.cat([x, x]), torch.cat([pos, neg]))
    n = x.shape[0]
    for i in (0, 2, 4):
        W = model.params[f"{i}.W"].detach().clone().requires_grad_()
        b = model.params[f"{i}.b"].detach().clone().requires_grad_()
        h = h.detach()
        out = torch.relu((h / (h.norm(dim=1, keepdim=True) + 1e-8)) @ W + b)
        g = out.pow(2).sum(1)
        loss = torch.cat(
            [
                torch.nn.functional.softplus(r.threshold - g[:n]),
                torch.nn.functional.softplus(g[n:] - r.threshold),
            ]
        ).mean()
        grads[f"{i}.W"], grads[f"{i}.b"] = torch.autograd.grad(loss, (W, b))
        h = out
    return grads


@pytest.mark.parametrize("negatives", ["random", "hardest"])
def test_each_layers_update_is_autograd_of_its_own_goodness_loss_float64(negatives):
    model, (x, y) = net(), batch()
    r = rule(negatives=negatives, threshold=0.5)
    r.attach(model)
    state = r.generator.get_state()
    r.train_step(model, CrossEntropyLoss(), x, y)
    # the same wrong labels, drawn again from the same state (or the same label search)
    r.generator.set_state(state)
    neg = r.wrong_labels(y, r.infer(model, x))
    expected = reference_grads(model, x, y, neg, r)
    assert set(expected) == set(model.grads) == {"0.W", "0.b", "2.W", "2.b", "4.W", "4.b"}
    for name, g in expected.items():
        assert g.abs().sum() > 0, name
        assert relative(model.grads[name], g) < 1e-12, name


def test_no_error_crosses_layers_a_layers_update_ignores_the_threshold_of_others():
    """Layer 0's update depends only on its own input and output: changing what the layers
    above do (their weights) leaves it bit for bit the same."""
    x, y = batch()
    updates = []
    for above in (0.0, 5.0):
        model = net()
        r = rule(negatives="random")
        r.attach(model)
        with torch.no_grad():
            model.params["2.W"].add_(above)
            model.params["4.W"].mul_(1 + above)
        r.train_step(model, CrossEntropyLoss(), x, y)
        updates.append(model.grads["0.W"].clone())
    assert torch.equal(*updates)


@pytest.mark.parametrize("score_from", ["all", "all_but_first"])
def test_the_label_search_sums_each_labels_goodness_over_the_scored_layers(score_from):
    model, (x, _) = net(), batch()
    r = rule(score_from=score_from, label_value=2.5)
    r.attach(model)
    scores = r.infer(model, x)
    assert scores.shape == (x.shape[0], C)
    for c in range(C):
        embedded = x.clone()
        embedded[:, :C] = 0
        embedded[:, c] = 2.5
        h, total = embedded, torch.zeros(x.shape[0], dtype=x.dtype)
        for k, i in enumerate((0, 2, 4)):
            h = model.layers[i + 1].forward(
                model.layers[i].forward(h / (h.norm(dim=1)[:, None] + 1e-8))
            )
            if k > 0 or score_from == "all":
                total += h.pow(2).sum(1)
        assert torch.allclose(scores[:, c], total, rtol=1e-13, atol=0), c


def test_the_train_step_returns_the_label_search_and_the_recipe_loss_of_it():
    model, (x, y) = net(), batch()
    r = rule()
    r.attach(model)
    expected = r.infer(model, x)
    loss = CrossEntropyLoss()
    out, value = r.train_step(model, loss, x, y)
    assert torch.equal(out, expected)
    assert torch.equal(value, CrossEntropyLoss().forward(expected, y))


def test_random_negatives_are_wrong_uniform_and_reproducible_from_the_generator():
    y = torch.arange(C).repeat(2500)
    r = rule()
    state = r.generator.get_state()
    wrong = r.wrong_labels(y, torch.zeros(y.shape[0], C))
    assert not (wrong == y).any()
    counts = torch.bincount(wrong[y == 0], minlength=C)[1:]  # 2500 over 3 labels: ≈ 833 each
    assert (counts - 2500 / 3).abs().max() < 120
    r.generator.set_state(state)
    assert torch.equal(r.wrong_labels(y, torch.zeros(y.shape[0], C)), wrong)


def test_hardest_negatives_are_the_best_scored_wrong_label():
    scores = torch.tensor([[9.0, 8.0, 1.0, 0.0], [9.0, 8.0, 1.0, 0.0], [0.0, 1.0, 2.0, 5.0]])
    y = torch.tensor([0, 1, 3])
    assert rule(negatives="hardest").wrong_labels(y, scores).tolist() == [1, 0, 2]


def test_a_leading_flatten_joins_the_first_layer_and_images_carry_the_label_in_front():
    torch.manual_seed(0)
    model = Sequential(Flatten(), Linear(16, 6), ReLU(), Linear(6, 5), ReLU())
    r = rule()
    r.attach(model)
    assert [len(b.layers) for b in r.blocks] == [3, 2]
    x = torch.rand(3, 1, 4, 4)
    embedded = r.embed(x, torch.tensor([0, 3, 1]))
    assert embedded.shape == x.shape
    assert embedded.flatten(1)[:, :C].tolist() == [
        [1.0, 0, 0, 0],
        [0, 0, 0, 1.0],
        [0, 1.0, 0, 0],
    ]
    assert torch.equal(embedded.flatten(1)[:, C:], x.flatten(1)[:, C:])
    assert r.infer(model, x).shape == (3, C)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (Sequential(ReLU()), r"the model has none at its top level"),
        (
            Sequential(Conv2d(1, 2, 3), ReLU(), Flatten(), Linear(8, 5), ReLU()),
            r"model\.0 \(Conv2d.*has parameters but is not one",
        ),
        (
            Sequential(Linear(3, 5), ReLU()),
            r"first 4 input features \(learning_rule\.classes\), and model\.0 reads 3",
        ),
    ],
)
def test_a_model_ff_cannot_train_is_refused_naming_the_layer(model, message):
    with pytest.raises(ConfigError, match=message):
        rule().attach(model)


def test_all_but_first_needs_two_layers():
    with pytest.raises(ConfigError, match=r"learning_rule\.score_from=all"):
        rule(score_from="all_but_first").attach(Sequential(Linear(12, 5), ReLU()))


# -- through recipes -------------------------------------------------------------------------
FF_RECIPE = """\
model:
  - {type: linear, in_features: 12, out_features: 32, init: xavier}
  - {type: relu}
  - {type: linear, in_features: 32, out_features: 32, init: xavier}
  - {type: relu}
loss: {type: cross_entropy}
optimizer: {type: adam, lr: 0.01}
learning_rule: {type: ff, classes: 3, threshold: 1.0, label_value: 3.0}
data:
  source: synthetic
  batch_size: 16
  args: {kind: blobs, num_classes: 3, dims: 12, train_size: 300, test_size: 60}
train: {epochs: 8, seed: 0, device: cpu, dtype: float64}
metrics: [loss, accuracy]
output: {progress: log, plots: false}
"""


def ff_recipe(tmp_path: Path, text: str = FF_RECIPE, *overrides: str) -> Path:
    """`text` with `key=value` overrides (each value replacing what was there), written to
    tmp_path/ff.yaml."""
    config = OmegaConf.create(text)
    for item in overrides:
        key, _, value = item.partition("=")
        OmegaConf.update(config, key, yaml.safe_load(value), merge=False, force_add=True)
    path = tmp_path / "ff.yaml"
    path.write_text(OmegaConf.to_yaml(config))
    return path


def test_ff_learns_blobs_and_evaluates_with_the_label_search(tmp_path):
    path = ff_recipe(tmp_path)
    _, summary = run_recipe(load_recipe(str(path)), tmp_path / "run")
    assert summary["test_accuracy"] > 90, summary


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["learning_rule.threshold=-1"],
            r"threshold=-1.0 must be a number ≥ 0.*learning_rule\.threshold",
        ),
        (["learning_rule.negatives=worst"], r"negatives='worst' is not one of random, hardest"),
        (["learning_rule.score_from=last"], r"score_from='last' is not one of all, all_but"),
        (["learning_rule.classes=1"], r"classes=1 must be an integer ≥ 2"),
        (["learning_rule.label_value=0"], r"label_value=0 would embed every label"),
        (["learning_rule.rate=0.1"], r"learning_rule\.rate"),
        (["learning_rule.classes=5"], r"shape \(5,\).*the data has 3 classes"),
        (["model.0.in_features=2", "data.args.dims=2"], r"model\.0 reads 2"),
        (
            ["model=[{type: conv2d, in_channels: 1, out_channels: 2, kernel_size: 1}]"],
            r"model\.0 \(Conv2d.*has parameters but is not one",
        ),
        (["checks.alignment={every: 1}"], r"checks\.alignment: learning_rule 'ff' trains each"),
        (["checks.autograd={every: 1}"], r"checks\.autograd: learning_rule 'ff' trains each"),
        (["checks.autograd={every: 1, twin: true}"], r"checks\.autograd\.twin"),
    ],
)
def test_validate_refuses_bad_arguments_models_and_checks_before_writing_naming_the_key(
    overrides, message, tmp_path, corebp_cli
):
    path = ff_recipe(tmp_path)
    code, out, err = corebp_cli("validate", str(path), *overrides)
    assert code == 2, (out, err)
    assert err.startswith("corebp: error: ") and "Traceback" not in err, err
    assert re.search(message, err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ff.yaml"]  # nothing written


def test_data_parallel_is_refused_naming_why(tmp_path, monkeypatch, corebp_cli):
    path = ff_recipe(tmp_path)
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert corebp_cli("validate", str(path))[0] == 0
    monkeypatch.setenv("WORLD_SIZE", "2")
    code, _, err = corebp_cli("validate", str(path))
    assert code == 2 and "draws each batch's wrong labels for the batch it sees" in err


@pytest.mark.parametrize("negatives", ["random", "hardest"])
def test_a_ff_run_stopped_mid_epoch_resumes_exactly(negatives, tmp_path):
    overrides = [
        "model=[{type: linear, in_features: 6, out_features: 16, init: xavier}, {type: relu}, "
        "{type: dropout, p: 0.2, seed: 1}, {type: linear, in_features: 16, out_features: 16}, "
        "{type: relu}, {type: dropout, p: 0.1}]",
        f"learning_rule={{type: ff, classes: 3, negatives: {negatives}}}",
        "data.args={kind: blobs, num_classes: 3, dims: 6, train_size: 200}",
    ]
    path = ff_recipe(tmp_path, RECIPE, *overrides)
    assert "generator" in assert_rule_resumes_exactly(path, tmp_path)
