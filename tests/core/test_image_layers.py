"""The image layers: checker over stride/padding/dilation/groups, torch parity, pinned aten ops."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from corebp import AvgPool2d, Conv2d, Flatten, MaxPool2d, Reshape, Softmax
from corebp.checks.gradcheck import check_layer
from corebp.contracts.layer import Layer
from corebp.errors import ConfigError, ShapeError
from corebp.layers.init import fans, initialise


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Thousands of tiny convolutions: one thread avoids pool overhead on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


#: fd_eps for layers linear in each of their inputs (no truncation error, so a larger step
#: only shrinks round-off): the finite differences then agree to ≤ 1e-10 too.
LINEAR_FD_EPS = 1e-4


def _assert_within_1e_10(layer: Layer, shape: tuple[int, ...], fd_eps: float, seed: int) -> None:
    report = check_layer(layer, shape, seed=seed, fd_eps=fd_eps)
    report.raise_if_failed()
    compared = [r for r in report.rows if r.status != "skipped"]
    assert {r.method for r in compared} == {"finite_differences", "autograd"}
    worst = max(r.max_rel_error for r in compared)
    assert worst <= 1e-10, str(report)


def _out(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    groups=st.sampled_from([1, 2, 3]),
    cin=st.integers(1, 2),
    cout=st.integers(1, 2),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 2)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 1)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    bias=st.booleans(),
    extra=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    seed=st.integers(0, 2**16),
)
def test_conv2d_matches_finite_differences_and_autograd_to_1e_10(
    groups, cin, cout, kernel, stride, padding, dilation, bias, extra, seed
) -> None:
    layer = Conv2d(cin * groups, cout * groups, kernel, stride, padding, dilation, groups, bias)
    # The smallest image the dilated kernel fits in, plus `extra` rows and columns.
    h, w = (
        max(1, d * (k - 1) + 1 - 2 * p) + e
        for k, p, d, e in zip(kernel, padding, dilation, extra, strict=True)
    )
    _assert_within_1e_10(layer, (2, cin * groups, h, w), LINEAR_FD_EPS, seed)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 2)),
    pad=st.tuples(st.booleans(), st.booleans()),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    ceil_mode=st.booleans(),
    extra=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    seed=st.integers(0, 2**16),
)
def test_max_pool2d_matches_finite_differences_and_autograd_to_1e_10(
    kernel, stride, pad, dilation, ceil_mode, extra, seed
) -> None:
    padding = tuple(k // 2 if p else 0 for k, p in zip(kernel, pad, strict=True))
    layer = MaxPool2d(kernel, stride, padding, dilation, ceil_mode)
    h, w = (d * (k - 1) + 1 + e for k, d, e in zip(kernel, dilation, extra, strict=True))
    _assert_within_1e_10(layer, (2, 2, h, w), LINEAR_FD_EPS, seed)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 2)),
    pad=st.tuples(st.booleans(), st.booleans()),
    ceil_mode=st.booleans(),
    count_include_pad=st.booleans(),
    divisor=st.sampled_from([None, 3]),
    extra=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    seed=st.integers(0, 2**16),
)
def test_avg_pool2d_matches_finite_differences_and_autograd_to_1e_10(
    kernel, stride, pad, ceil_mode, count_include_pad, divisor, extra, seed
) -> None:
    padding = tuple(k // 2 if p else 0 for k, p in zip(kernel, pad, strict=True))
    layer = AvgPool2d(kernel, stride, padding, ceil_mode, count_include_pad, divisor)
    h, w = (k + e for k, e in zip(kernel, extra, strict=True))
    _assert_within_1e_10(layer, (2, 2, h, w), LINEAR_FD_EPS, seed)


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (Flatten(), (2, 3, 4, 5)),
        (Flatten(2, 3), (2, 3, 4, 5)),
        (Flatten(0, 1), (2, 3, 4)),
        (Reshape([1, 2, 3]), (2, 6)),
        (Reshape([-1, 2]), (3, 2, 4)),
        (Softmax(1), (3, 4, 5)),
        (Softmax(-2), (3, 4, 5)),
    ],
    ids=repr,
)
def test_shape_layers_match_finite_differences_and_autograd_to_1e_10(layer, shape) -> None:
    _assert_within_1e_10(layer, shape, 1e-5, seed=0)


def test_shape_layers_match_torch_modules() -> None:
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    assert torch.equal(Flatten(1, 2)(x), torch.nn.Flatten(1, 2)(x))
    assert torch.equal(Reshape([5, 12])(x), x.reshape(2, 5, 12))
    assert torch.equal(Softmax(1)(x), torch.nn.Softmax(1)(x))


# -- a deliberately wrong backward is caught and named ------------------------------------
class _ConvWrongWeight(Conv2d):
    def _backward(self, x, grad_output, input_grad):
        dx = super()._backward(x, grad_output, input_grad)
        self.grads["W"][0, 0, 0, 0] += 1e-3
        return dx


class _ConvNoBiasGradient(Conv2d):
    def _backward(self, x, grad_output, input_grad):
        saved = self.grads.pop("b")
        try:
            return super()._backward(x, grad_output, input_grad)
        finally:
            self.grads["b"] = saved


class _MaxPoolWrongInput(MaxPool2d):
    def _backward(self, ctx, grad_output, input_grad):
        return super()._backward(ctx, grad_output, input_grad) * 1.001


class _AvgPoolWrongInput(AvgPool2d):
    def _backward(self, x, grad_output, input_grad):
        dx = super()._backward(x, grad_output, input_grad)
        dx[0, 0, 0, 0] = 0.0
        return dx


@pytest.mark.parametrize(
    ("layer", "shape", "tensor"),
    [
        (_ConvWrongWeight(2, 3, 2), (2, 2, 4, 4), "W"),
        (_ConvNoBiasGradient(1, 2, 2, dilation=2), (2, 1, 5, 5), "b"),
        (_MaxPoolWrongInput(2), (2, 2, 4, 4), "input"),
        (_AvgPoolWrongInput(2), (2, 2, 4, 4), "input"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Layer) else None,
)
def test_a_wrong_backward_fails_the_checker_and_is_named(layer, shape, tensor) -> None:
    report = check_layer(layer, shape)
    assert not report.passed
    worst = report.worst()
    assert worst is not None and worst.tensor == tensor and worst.status == "FAIL"
    assert f"worst: {tensor}[" in str(report)


# -- torch parity, bit for bit --------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
def test_conv2d_forward_and_backward_are_bit_identical_to_torch_autograd(dtype) -> None:
    torch.manual_seed(0)
    ours = Conv2d(4, 6, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), groups=2).to(dtype=dtype)
    ours.params["b"].normal_()
    theirs = torch.nn.Conv2d(4, 6, (3, 2), (2, 1), 1, (1, 2), 2, dtype=dtype)
    with torch.no_grad():
        theirs.weight.copy_(ours.params["W"])
        theirs.bias.copy_(ours.params["b"])
    x = torch.randn(8, 4, 9, 7, dtype=dtype)
    leaf = x.clone().requires_grad_(True)
    y_ref = theirs(leaf)
    g = torch.randn_like(y_ref)
    y_ref.backward(g)
    y = ours(x)
    dx = ours.backward(g.clone())
    assert torch.equal(y, y_ref.detach())
    assert torch.equal(dx, leaf.grad)
    assert torch.equal(ours.grads["W"], theirs.weight.grad)
    assert torch.equal(ours.grads["b"], theirs.bias.grad)


@pytest.mark.parametrize(
    "pair",
    [
        (MaxPool2d(3, 2, 1, 2, True), torch.nn.MaxPool2d(3, 2, 1, 2, ceil_mode=True)),
        (AvgPool2d(3, 2, 1, True, False), torch.nn.AvgPool2d(3, 2, 1, True, False)),
    ],
    ids=lambda p: type(p[0]).__name__,
)
def test_pooling_is_bit_identical_to_torch_autograd_in_float32(pair) -> None:
    ours, theirs = pair
    x = torch.randn(4, 3, 11, 10)
    leaf = x.clone().requires_grad_(True)
    y_ref = theirs(leaf)
    g = torch.randn_like(y_ref)
    y_ref.backward(g)
    assert torch.equal(ours(x), y_ref.detach())
    assert torch.equal(ours.backward(g.clone()), leaf.grad)


def test_conv2d_skips_the_input_gradient_when_nobody_needs_it(monkeypatch) -> None:
    import corebp.layers.conv2d as conv_module

    masks = []
    real = conv_module.convolution_backward

    def spy(*args):
        masks.append(list(args[-1]))
        return real(*args)

    monkeypatch.setattr(conv_module, "convolution_backward", spy)
    layer = Conv2d(1, 2, 3)
    layer(torch.randn(2, 1, 5, 5))
    assert layer.backward(torch.randn(2, 2, 3, 3), input_grad=False) is None
    assert masks == [[False, True, True]]
    assert layer.grads["W"].abs().sum() > 0


# -- the semi-private aten ops: a signature change fails here, not in a training run -------
@pytest.mark.parametrize(
    ("op", "schema"),
    [
        (
            torch.ops.aten.convolution_backward.default,
            "aten::convolution_backward(Tensor grad_output, Tensor input, Tensor weight, "
            "SymInt[]? bias_sizes, SymInt[] stride, SymInt[] padding, SymInt[] dilation, "
            "bool transposed, SymInt[] output_padding, SymInt groups, bool[3] output_mask) "
            "-> (Tensor, Tensor, Tensor)",
        ),
        (
            torch.ops.aten.max_pool2d_with_indices.default,
            "aten::max_pool2d_with_indices(Tensor self, int[2] kernel_size, int[2] stride=[], "
            "int[2] padding=0, int[2] dilation=1, bool ceil_mode=False) -> (Tensor, Tensor)",
        ),
        (
            torch.ops.aten.max_pool2d_with_indices_backward.default,
            "aten::max_pool2d_with_indices_backward(Tensor grad_output, Tensor self, "
            "int[2] kernel_size, int[2] stride, int[2] padding, int[2] dilation, "
            "bool ceil_mode, Tensor indices) -> Tensor",
        ),
        (
            torch.ops.aten.threshold_backward.default,
            "aten::threshold_backward(Tensor grad_output, Tensor self, Scalar threshold) -> Tensor",
        ),
        (
            torch.ops.aten.avg_pool2d_backward.default,
            "aten::avg_pool2d_backward(Tensor grad_output, Tensor self, int[2] kernel_size, "
            "int[2] stride, int[2] padding, bool ceil_mode, bool count_include_pad, "
            "int? divisor_override) -> Tensor",
        ),
    ],
    ids=lambda v: None if isinstance(v, str) else str(v).split(".")[-2],
)
def test_the_aten_ops_keep_the_signature_corebp_calls(op, schema) -> None:
    assert str(op._schema) == schema


# -- initialisers and errors -----------------------------------------------------------------
@pytest.mark.parametrize("shape", [(6, 1, 5, 5), (16, 3, 3, 2), (8, 4, 3), (100, 784)])
def test_fans_of_a_conv_kernel_are_torchs(shape) -> None:
    if len(shape) == 2:  # Linear's W is (in, out), the transpose of torch's (out, in)
        assert fans(shape) == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape[::-1]))
    else:
        assert fans(shape) == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


def test_conv2d_default_init_has_torchs_bound_from_c_in_kh_kw() -> None:
    W = initialise("uniform", (64, 6, 5, 5), generator=torch.Generator().manual_seed(0))
    bound = 1 / (6 * 5 * 5) ** 0.5  # torch.nn.Conv2d's kaiming_uniform_(a=√5) bound
    assert W.abs().max() <= bound and W.abs().max() > 0.99 * bound


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Conv2d(3, 4, 3, groups=2), "in_channels=3 must be divisible by groups=2"),
        (lambda: Conv2d(1, 4, [3, 0]), "kernel_size=[3, 0] must be an integer ≥ 1"),
        (lambda: Conv2d(1, 4, 3, padding=-1), "padding=-1 must be an integer ≥ 0"),
        (lambda: MaxPool2d(2, padding=2), "padding=2 must be at most half of kernel_size=2"),
        (lambda: AvgPool2d(2, divisor_override=0), "divisor_override=0 must be a positive"),
        (lambda: Reshape([2, -1, -1]), "at most one of them -1"),
        (lambda: Softmax("last"), "dim='last' must be an integer"),
    ],
)
def test_bad_arguments_name_the_argument_and_the_fix(build, message) -> None:
    with pytest.raises(ConfigError, match="^.*" + message.replace("[", r"\[").replace("]", r"\]")):
        build()


@pytest.mark.parametrize(
    ("layer", "shape", "message"),
    [
        (Conv2d(3, 4, 3), (2, 784), r"expected input of shape \(batch, 3, height, width\)"),
        (Conv2d(1, 4, 5), (2, 1, 3, 3), r"input of shape \(2, 1, 3, 3\)"),
        (MaxPool2d(2), (2, 6), r"expected input of shape \(batch, channels, height, width\)"),
        (Reshape([5, 5]), (2, 24), "each example has 24 values"),
        (Flatten(1, 3), (2, 3), "at least 4 dimensions to flatten dims 1..3"),
        (Softmax(3), (2, 3), "dim=3 is out of range"),
    ],
    ids=lambda v: repr(v) if isinstance(v, Layer) else None,
)
def test_a_wrong_input_shape_is_a_shape_error_naming_the_shape(layer, shape, message) -> None:
    with pytest.raises(ShapeError, match=message):
        layer(torch.randn(shape))


def test_repr_shows_what_an_image_layer_is() -> None:
    assert repr(Conv2d(1, 6, 5)) == "Conv2d(1 -> 6, kernel_size=(5, 5), bias=True)"
    assert (
        repr(Conv2d(4, 8, 3, stride=2, padding=1, groups=2, bias=False))
        == "Conv2d(4 -> 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), groups=2, bias=False)"
    )
    assert repr(MaxPool2d(2)) == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2))"
