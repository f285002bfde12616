"""Layer and loss behaviour beyond gradients: errors that explain, state, modes, names, devices."""

from __future__ import annotations

import pytest
import torch

from corebp import (
    BCELoss,
    ConfigError,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    Layer,
    LeakyReLU,
    Linear,
    MSELoss,
    Optimizer,
    ReLU,
    Sequential,
    ShapeError,
    Sigmoid,
    Softmax,
    StateError,
    Tanh,
    layers,
    losses,
)
from corebp.checks.gradcheck import check_layer, compare_with_autograd
from corebp.layers.init import INITIALISERS


# -- errors ---------------------------------------------------------------------------------------
def test_linear_rejects_wrong_input_width_naming_expected_and_actual() -> None:
    with pytest.raises(
        ShapeError,
        match=r"expected input of shape \(batch, 100\) with 100 "
        r"features, got shape \(4, 50\)",
    ):
        Linear(100, 10)(torch.randn(4, 50))


def test_linear_suggests_flatten_for_image_input() -> None:
    with pytest.raises(ShapeError, match="add a Flatten layer"):
        Linear(784, 10)(torch.randn(2, 1, 28, 28))


def test_sequential_names_the_layer_and_phase_of_a_shape_error() -> None:
    model = Sequential(Linear(784, 50, bias=False), Sigmoid(), Linear(100, 10, bias=False))
    with pytest.raises(ShapeError) as info:
        model(torch.randn(32, 784))
    message = str(info.value)
    assert "layer 2 (Linear(100 -> 10, bias=False)) during forward" in message
    assert "expected input of shape (batch, 100) with 100 features, got shape (32, 50)" in message


def test_nested_sequential_error_names_outer_and_inner_layer() -> None:
    model = Sequential(Linear(5, 4), Sequential(Tanh(), Linear(3, 2)))
    with pytest.raises(ShapeError) as info:
        model(torch.randn(2, 5))
    assert str(info.value).startswith(
        "layer 1 (Sequential(...)) during forward: layer 1 (Linear(3 -> 2, bias=True)) during "
        "forward: expected input"
    )


@pytest.mark.parametrize("name", sorted(layers.REGISTRY))
def test_backward_before_forward_is_a_state_error(name: str) -> None:
    layer, _ = layers.REGISTRY[name].example()
    with pytest.raises(StateError, match=r"backward\(\) called without a preceding forward"):
        layer.backward(torch.ones(2, 2))


def test_second_backward_after_one_forward_is_a_state_error() -> None:
    layer = Tanh()
    layer(torch.randn(2, 3))
    layer.backward(torch.ones(2, 3))
    with pytest.raises(StateError, match="each forward allows one backward"):
        layer.backward(torch.ones(2, 3))


def test_sequential_backward_before_forward_names_the_last_layer() -> None:
    model = Sequential(Linear(3, 2), Sigmoid())
    with pytest.raises(StateError, match=r"layer 1 \(Sigmoid\(\)\) during backward"):
        model.backward(torch.ones(4, 2))


@pytest.mark.parametrize("name", sorted(losses.REGISTRY))
def test_loss_backward_before_forward_is_a_state_error(name: str) -> None:
    loss, _ = losses.REGISTRY[name].example()
    with pytest.raises(StateError, match="without a preceding forward"):
        loss.backward()


def test_bad_init_name_suggests_the_nearest() -> None:
    with pytest.raises(
        ConfigError,
        match=r"Linear: init='nromal' is not a known initialiser; "
        r"expected one of .*Did you mean 'normal'\?",
    ):
        Linear(3, 2, init="nromal")


@pytest.mark.parametrize("init", sorted(INITIALISERS))
def test_every_initialiser_builds_a_linear_with_a_generator(init: str) -> None:
    gen = torch.Generator().manual_seed(0)
    layer = Linear(4, 3, init=init, generator=gen, dtype=torch.float64)
    assert layer.params["W"].shape == (4, 3) and layer.params["W"].dtype == torch.float64


@pytest.mark.parametrize("cls", [losses.REGISTRY[n] for n in sorted(losses.REGISTRY)])
def test_bad_reduction_names_the_choices(cls) -> None:
    with pytest.raises(
        ConfigError,
        match=rf"{cls.__name__}: reduction='sums' is not supported; "
        r"expected 'mean' or 'sum'. Did you mean 'sum'\?",
    ):
        cls(reduction="sums")


def test_other_bad_arguments_explain_themselves() -> None:
    with pytest.raises(ConfigError, match=r"p=1 must be a probability in \[0, 1\)"):
        Dropout(1)
    with pytest.raises(ConfigError, match="either seed or generator"):
        Dropout(0.5, seed=1, generator=torch.Generator())
    with pytest.raises(ConfigError, match="is the same object as item 0"):
        act = Tanh()
        Sequential(act, act)
    with pytest.raises(ShapeError, match="at least 2 dimensions"):
        Flatten()(torch.randn(3))
    with pytest.raises(ShapeError, match=r"expected integer class targets of shape \(4,\)"):
        CrossEntropyLoss()(torch.randn(4, 3), torch.rand(4, 3))
    with pytest.raises(ShapeError, match="does not match prediction shape"):
        BCELoss()(torch.rand(4, 3), torch.rand(4, 2))


# -- gradients accumulate ------------------------------------------------------------------------
def test_gradients_accumulate_until_zero_grad() -> None:
    model = Sequential(Linear(5, 4), Tanh(), Linear(4, 2))
    x, g = torch.randn(3, 5), torch.randn(3, 2)
    model(x)
    model.backward(g)
    once = {n: t.clone() for n, t in model.grads.items()}
    model(x)
    model.backward(g)
    assert all(torch.allclose(model.grads[n], 2 * once[n]) for n in once)
    model.zero_grad()
    assert all(not t.any() for t in model.grads.values())


def test_first_layer_skips_input_gradient_when_not_asked() -> None:
    layer = Linear(3, 2)
    layer(torch.randn(4, 3))
    assert layer.backward(torch.ones(4, 2), input_grad=False) is None
    assert layer.grads["W"].any()


@pytest.mark.parametrize("front", [Flatten, Sigmoid])
def test_sequential_backward_stops_where_no_earlier_layer_needs_a_gradient(front) -> None:
    # The trainer's backward(g, input_grad=False): Linear returns None, and the
    # parameter-free layer before it must not be handed that None.
    model = Sequential(front(), Linear(6, 2))
    model(torch.randn(4, 6))
    assert model.backward(torch.ones(4, 2), input_grad=False) is None
    assert model.grads["1.W"].any()


# -- Dropout -------------------------------------------------------------------------------------
def test_dropout_is_identity_in_eval_mode() -> None:
    layer = Dropout(0.5).eval()
    x, g = torch.randn(8, 5), torch.randn(8, 5)
    assert layer(x) is x
    assert layer.backward(g) is g


def test_dropout_in_training_zeros_about_p_and_scales_survivors() -> None:
    layer = Dropout(0.3, seed=0)
    x = torch.randn(200, 500).abs() + 0.1
    y = layer(x)
    kept = y != 0
    assert 0.29 < 1 - kept.float().mean().item() < 0.31
    torch.testing.assert_close(y[kept], x[kept] / 0.7)
    g = torch.randn_like(x)
    torch.testing.assert_close(layer.backward(g), g * kept / 0.7)


def test_dropout_masks_are_reproducible_from_seed_or_generator() -> None:
    x = torch.ones(4, 50)
    a, b = Dropout(0.5, seed=11), Dropout(0.5, seed=11)
    first = a(x)
    assert torch.equal(first, b(x))
    assert not torch.equal(first, a(x))  # the next batch gets a new mask
    c = Dropout(0.5, generator=torch.Generator().manual_seed(11))
    assert torch.equal(c(x), first)


def test_dropout_reference_before_a_training_forward_is_a_state_error() -> None:
    with pytest.raises(StateError, match=r"needs the mask of a training forward"):
        Dropout(0.5).reference(torch.ones(2, 3), {})


def test_sequential_train_and_eval_reach_nested_layers() -> None:
    inner = Sequential(Dropout(0.5))
    model = Sequential(Linear(3, 3), inner)
    model.eval()
    assert not inner.training and not inner.layers[0].training
    model.train()
    assert inner.layers[0].training


# -- Sequential names and dtypes -----------------------------------------------------------------
def test_nested_sequential_parameter_names_and_identity() -> None:
    inner = Sequential(Linear(4, 3), Tanh())
    model = Sequential(Linear(5, 4), inner, Linear(3, 2, bias=False))
    assert list(model.params) == ["0.W", "0.b", "1.0.W", "1.0.b", "2.W"]
    assert model.params["1.0.W"] is inner.layers[0].params["W"]
    assert model.grads["1.0.W"] is inner.layers[0].grads["W"]
    check_layer(model, (3, 5)).raise_if_failed()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_to_dtype_keeps_params_and_grads_shared_with_children(dtype: torch.dtype) -> None:
    model = Sequential(Linear(5, 4), Sequential(Sigmoid(), Linear(4, 2))).to(dtype=dtype)
    assert all(p.dtype == dtype for p in model.params.values())
    assert model.params["1.1.W"] is model.layers[1].layers[1].params["W"]
    y = model(torch.randn(3, 5, dtype=dtype))
    assert y.dtype == dtype
    model.backward(torch.ones_like(y))
    assert model.grads["1.1.W"] is model.layers[1].layers[1].grads["W"]


def test_reprs_show_what_each_layer_is() -> None:
    assert repr(Linear(784, 100, bias=False)) == "Linear(784 -> 100, bias=False)"
    assert repr(LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(Dropout(0.25, seed=3)) == "Dropout(p=0.25, seed=3)"
    assert repr(CrossEntropyLoss("sum")) == "CrossEntropyLoss(reduction='sum')"
    assert repr(BCELoss()) == "BCELoss(reduction='mean', eps=1e-07)"
    assert [repr(c()) for c in (ReLU, Softmax, Flatten)] == ["ReLU()", "Softmax()", "Flatten()"]


# -- numerics ------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_is_stable_for_huge_logits_and_matches_torch(reduction: str) -> None:
    logits = torch.tensor([[1000.0, 0.0, -1000.0], [0.0, 800.0, 0.0]], dtype=torch.float64)
    target = torch.tensor([2, 1])
    loss = CrossEntropyLoss(reduction)
    value = loss(logits, target)
    expected = torch.nn.functional.cross_entropy(logits, target, reduction=reduction)
    torch.testing.assert_close(value, expected)
    grad = loss.backward()
    onehot = torch.nn.functional.one_hot(target, 3)
    scale = 2 if reduction == "mean" else 1
    torch.testing.assert_close(grad, (torch.softmax(logits, 1) - onehot) / scale)


def test_bce_clamps_probabilities_of_exactly_0_and_1() -> None:
    loss = BCELoss(reduction="sum")
    p = torch.tensor([0.0, 1.0, 0.5], dtype=torch.float64)
    t = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    value = loss(p, t)
    assert torch.isfinite(value) and value > 2 * 15  # −log(1e-7) ≈ 16.1 for each wrong extreme
    grad = loss.backward()
    assert torch.isfinite(grad).all() and grad[0] < 0 < grad[1]


def test_bce_accepts_integer_targets() -> None:
    p = torch.tensor([[0.2, 0.9]])
    value = BCELoss()(p, torch.tensor([[0, 1]]))
    torch.testing.assert_close(
        value, torch.nn.functional.binary_cross_entropy(p, torch.tensor([[0.0, 1.0]]))
    )


# -- devices -------------------------------------------------------------------------------------
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
def test_checker_passes_on_cuda() -> None:
    model = Sequential(Linear(6, 4), Dropout(0.5, seed=1), Sigmoid(), Linear(4, 3)).to("cuda")
    assert check_layer(model, (5, 6)).passed
    check_layer(model, (5, 6), dtype=torch.float32).raise_if_failed()


@cuda
def test_training_step_on_cuda_matches_autograd_and_reproduces_dropout() -> None:
    model = Sequential(Linear(784, 100), Dropout(0.2, seed=5), ReLU(), Linear(100, 10)).to("cuda")
    loss = CrossEntropyLoss()
    x = torch.randn(32, 784, device="cuda")
    t = torch.randint(10, (32,), device="cuda")
    loss.forward(model(x), t)
    model.backward(loss.backward(), input_grad=False)
    diffs = compare_with_autograd(model, loss, x, t)
    assert set(diffs) == set(model.params), "one comparison per parameter, none left out"
    assert all(d.max_rel < 1e-5 for d in diffs.values()), diffs
    a, b = Dropout(0.5, seed=2).to("cuda"), Dropout(0.5, seed=2).to("cuda")
    ones = torch.ones(4, 100, device="cuda")
    assert torch.equal(a(ones), b(ones))


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("batch", [4, 80])  # 80 rows and 3 outputs take the transposed products
def test_linear_gradients_hold_on_both_product_orientations(batch: int, bias: bool):
    layer = Linear(7, 3, bias=bias)
    assert layer._transposed(torch.zeros(batch, 7)) == (batch >= 64)
    check_layer(layer, (batch, 7)).raise_if_failed()
    y = layer(torch.randn(batch, 7, dtype=layer.params["W"].dtype))
    assert y.is_contiguous()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(32, 100), (1024, 300)])  # one block, several blocks
@pytest.mark.parametrize("inplace", [False, True])
def test_sigmoid_backward_is_bit_identical_to_torch_autograd(shape, dtype, inplace: bool):
    """So that a torch twin trained in lockstep stays on exactly the same trajectory."""
    x = torch.randn(*shape, dtype=dtype, requires_grad=True)
    g = torch.randn(*shape, dtype=dtype)
    torch.sigmoid(x).backward(g)
    layer = Sigmoid(inplace=inplace)
    layer(x.detach())
    assert torch.equal(layer.backward(g.clone()), x.grad)


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("shape", [(), (7,), (2, 3, 4)])
def test_sigmoid_backward_takes_any_shape_even_0_dim(shape, inplace: bool) -> None:
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    g = torch.randn(shape, dtype=torch.float64)
    torch.sigmoid(x).backward(g)
    layer = Sigmoid(inplace=inplace)
    layer(x.detach())
    assert torch.equal(layer.backward(g.clone()), x.grad)


def test_sigmoid_inplace_is_an_opt_in_that_reuses_the_gradients_memory() -> None:
    x, g = torch.randn(64, 10), torch.randn(64, 10)
    default, inplace = Sigmoid(), Sigmoid(inplace=True)
    default(x), inplace(x)
    kept = g.clone()
    dx = default.backward(g)
    assert torch.equal(g, kept) and dx.data_ptr() != g.data_ptr()
    dx_inplace = inplace.backward(g)
    assert dx_inplace.data_ptr() == g.data_ptr() and torch.equal(dx_inplace, dx)
    assert repr(inplace) == "Sigmoid(inplace=True)" and repr(default) == "Sigmoid()"


def test_sigmoid_inplace_leaves_a_gradient_it_cannot_write_into_alone() -> None:
    layer = Sigmoid(inplace=True)
    y = layer(torch.zeros(4, 5))
    g = torch.ones(()).expand(4, 5)
    torch.testing.assert_close(layer.backward(g), torch.full_like(y, 0.25))


def test_sigmoid_inplace_must_be_a_bool() -> None:
    with pytest.raises(ConfigError, match="Sigmoid: inplace='yes' must be true or false"):
        Sigmoid(inplace="yes")  # type: ignore[arg-type]


# -- errors from inside a Sequential keep their type -------------------------------------------
class _Raises(Layer):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def _forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        NotImplementedError("_Raises must implement _forward(x)"),
        RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn"),
        TypeError("unsupported operand"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_sequential_keeps_the_type_of_an_error_that_is_not_about_shapes(error) -> None:
    model = Sequential(Linear(3, 3), _Raises(error))
    with pytest.raises(type(error)) as info:
        model(torch.randn(2, 3))
    assert type(info.value) is type(error)
    assert str(info.value) == f"layer 1 (_Raises()) during forward: {error}"


def test_sequential_keeps_a_dtype_mismatch_a_runtime_error_naming_the_layer() -> None:
    model = Sequential(Sigmoid(), Linear(5, 4), Linear(4, 2))
    with pytest.raises(
        RuntimeError, match=r"^layer 1 \(Linear\(5 -> 4, bias=True\)\) during forward: .*dtype"
    ) as info:
        model(torch.randn(3, 5, dtype=torch.float64))
    assert not isinstance(info.value, ShapeError)


def test_sequential_turns_torchs_own_shape_mismatch_into_a_shape_error() -> None:
    model = Sequential(Linear(5, 4), Sigmoid())
    model(torch.randn(3, 5))
    with pytest.raises(ShapeError, match=r"^layer 1 \(Sigmoid\(\)\) during backward: .*size"):
        model.backward(torch.ones(3, 7))


# -- .to() moves the tensors an optimizer already holds ------------------------------------------
class _PlainSGD(Optimizer):
    def step(self) -> None:
        for name, p in self.params.items():
            p.add_(self.grads[name], alpha=-self.lr)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_to_after_building_an_optimizer_keeps_it_training_the_models_tensors(dtype) -> None:
    model = Sequential(Linear(5, 4), Sigmoid(), Sequential(Linear(4, 2)))
    params, grads = model.params, model.grads
    before = dict(params)
    optimizer = _PlainSGD(model.params, model.grads, lr=0.5)
    model.to(dtype=dtype)
    assert model.params is params and model.grads is grads
    assert all(model.params[n] is t for n, t in before.items())
    loss = MSELoss()
    x = torch.randn(8, 5, dtype=dtype)
    start = {n: p.clone() for n, p in model.params.items()}
    loss.forward(model(x), torch.zeros(8, 2, dtype=dtype))
    model.backward(loss.backward())
    optimizer.step()
    for name, p in model.params.items():
        assert p.dtype == dtype and optimizer.params[name] is p
        assert not torch.equal(p, start[name]), f"{name} did not move"
