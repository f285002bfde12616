"""BatchNorm1d/2d against torch.nn's, and buffers in the layer contract."""

from __future__ import annotations

import pytest
import torch

from corebp import BatchNorm1d, BatchNorm2d, Conv2d, Linear, ReLU, Sequential
from corebp.checks.gradcheck import check_layer
from corebp.contracts.layer import Layer
from corebp.errors import ConfigError, ShapeError

#: fd_eps whose finite differences agree with the explicit backward to ≤ 1e-10 (measured:
#: 1e-6 leaves ~1e-10 of round-off, 1e-4 ~1e-9 of truncation in normalisation's curvature).
FD_EPS = 1e-5


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
@pytest.mark.parametrize(
    ("cls", "shape"),
    [
        (BatchNorm1d, (5, 3)),
        (BatchNorm1d, (2, 3, 4)),
        (BatchNorm2d, (3, 3, 2, 4)),
        (BatchNorm2d, (1, 3, 3, 1)),
    ],
    ids=str,
)
def test_batch_norm_matches_finite_differences_and_autograd_to_1e_10(
    cls, shape, affine, training
) -> None:
    # Seeded: the draws below must not depend on what earlier tests took from torch's RNG.
    torch.manual_seed(0)
    layer = cls(3, affine=affine, momentum=0.3)
    if affine:
        layer.params["W"].uniform_(0.5, 1.5)
        layer.params["b"].normal_()
    layer.buffers["running_mean"].normal_()
    layer.buffers["running_var"].uniform_(0.5, 2)
    layer.train(training)
    report = check_layer(layer, shape, fd_eps=FD_EPS)
    report.raise_if_failed()
    compared = [r for r in report.rows if r.status != "skipped"]
    assert {r.method for r in compared} == {"finite_differences", "autograd"}
    assert max(r.max_rel_error for r in compared) <= 1e-10, str(report)


class _WrongScale(BatchNorm2d):
    def _backward(self, ctx, grad_output, input_grad):
        dx = super()._backward(ctx, grad_output, input_grad)
        self.grads["W"].mul_(1.001)
        return dx


class _NoMeanTerm(BatchNorm2d):
    """dx as if μ did not depend on x: the classic batch-norm backward mistake."""

    def _backward(self, ctx, grad_output, input_grad):
        xhat, invstd = ctx
        super()._backward(ctx, grad_output, False)
        gx = (grad_output * xhat).sum((0, 2, 3), keepdim=True) / (xhat.numel() // xhat.shape[1])
        return (grad_output - xhat * gx) * (invstd * self.params["W"]).view(1, -1, 1, 1)


@pytest.mark.parametrize(("layer", "tensor"), [(_WrongScale(3), "W"), (_NoMeanTerm(3), "input")])
def test_a_wrong_batch_norm_backward_fails_and_is_named(layer: Layer, tensor: str) -> None:
    report = check_layer(layer, (4, 3, 2, 2))
    worst = report.worst()
    assert not report.passed and worst is not None and worst.tensor == tensor


def test_batch_norm2d_follows_torch_for_10_steps_and_in_eval_mode_to_1e_12() -> None:
    torch.manual_seed(0)
    ours = BatchNorm2d(4, momentum=0.2, dtype=torch.float64)
    theirs = torch.nn.BatchNorm2d(4, momentum=0.2, dtype=torch.float64)
    lr = 0.1

    def step(x: torch.Tensor, g: torch.Tensor) -> None:
        leaf = x.clone().requires_grad_(True)
        y_ref = theirs(leaf)
        y_ref.backward(g)
        y = ours(x)
        dx = ours.backward(g.clone())
        for a, b in (
            (y, y_ref),
            (dx, leaf.grad),
            (ours.grads["W"], theirs.weight.grad),
            (ours.grads["b"], theirs.bias.grad),
            (ours.buffers["running_mean"], theirs.running_mean),
            (ours.buffers["running_var"], theirs.running_var),
        ):
            assert (a - b).abs().max() <= 1e-12
        assert int(ours.buffers["num_batches_tracked"]) == int(theirs.num_batches_tracked)
        with torch.no_grad():
            for name, p in (("W", theirs.weight), ("b", theirs.bias)):
                ours.params[name].sub_(lr * ours.grads[name])
                p.sub_(lr * p.grad)
        ours.zero_grad()
        theirs.zero_grad()

    for _ in range(10):
        x = torch.randn(8, 4, 5, 5, dtype=torch.float64) * 3 + 1
        step(x, torch.randn(8, 4, 5, 5, dtype=torch.float64))
    assert int(ours.buffers["num_batches_tracked"]) == 10
    ours.eval()
    theirs.eval()
    step(torch.randn(8, 4, 5, 5, dtype=torch.float64), torch.randn(8, 4, 5, 5, dtype=torch.float64))
    assert int(ours.buffers["num_batches_tracked"]) == 10, "eval mode tracks nothing"


def test_momentum_none_is_torchs_cumulative_average() -> None:
    ours, theirs = BatchNorm1d(3, momentum=None), torch.nn.BatchNorm1d(3, momentum=None)
    for _ in range(4):
        x = torch.randn(6, 3)
        ours(x)
        theirs(x)
    assert torch.allclose(ours.buffers["running_mean"], theirs.running_mean, atol=1e-6)
    assert torch.allclose(ours.buffers["running_var"], theirs.running_var, atol=1e-6)


# -- buffers ---------------------------------------------------------------------------------
def _net() -> Sequential:
    return Sequential(Conv2d(1, 2, 3), BatchNorm2d(2), ReLU(), Linear(4, 3), BatchNorm1d(3))


def test_sequential_collects_buffers_by_dotted_name_and_params_exclude_them() -> None:
    net = _net()
    assert list(net.buffers) == [
        f"{i}.{b}" for i in (1, 4) for b in ("running_mean", "running_var", "num_batches_tracked")
    ]
    assert not set(net.buffers) & set(net.params)
    assert net.buffers["1.running_mean"] is net.layers[1].buffers["running_mean"]


def test_to_moves_buffers_and_casts_only_floating_ones() -> None:
    net = _net().to(dtype=torch.float64)
    assert net.buffers["1.running_var"].dtype == torch.float64
    assert net.layers[1].buffers["running_var"].dtype == torch.float64
    assert net.buffers["1.num_batches_tracked"].dtype == torch.int64
    assert net.buffers["1.running_var"] is net.layers[1].buffers["running_var"]


def test_repr_lists_the_buffers() -> None:
    assert repr(BatchNorm2d(6)) == (
        "BatchNorm2d(6, eps=1e-05, momentum=0.1, affine=True; "
        "buffers: running_mean, running_var, num_batches_tracked)"
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: BatchNorm2d(0), "num_features=0 must be a positive integer"),
        (lambda: BatchNorm2d(3, momentum=2), "momentum=2 must be a number in"),
        (lambda: BatchNorm1d(3, eps=0), "eps=0 must be a positive number"),
    ],
)
def test_bad_batch_norm_arguments_are_named(build, message) -> None:
    with pytest.raises(ConfigError, match=message):
        build()


@pytest.mark.parametrize(
    ("layer", "shape", "message"),
    [
        (BatchNorm2d(3), (2, 3, 4), r"expected input of shape \(batch, 3, height, width\)"),
        (BatchNorm1d(3), (2, 4), r"expected input of shape \(batch, 3\) or"),
        (BatchNorm1d(3), (1, 3), "expected more than 1 value per channel when training"),
    ],
)
def test_a_wrong_batch_norm_input_names_the_shape(layer, shape, message) -> None:
    with pytest.raises(ShapeError, match=message):
        layer(torch.randn(shape))
