"""SGD, Adam and AdamW follow torch.optim exactly, and their state survives a save/restore."""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch
from corebp_optim import SGD, Adam, AdamW

from corebp.errors import ConfigError
from corebp.optimizer import Optimizer

SHAPES = {"W": (7, 5), "b": (5,)}
STEPS = 100

#: (our class, torch class, hyperparameters both take)
CASES = [
    (SGD, torch.optim.SGD, {"lr": 0.05}),
    (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 1e-2}),
    (SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-4}),
    (Adam, torch.optim.Adam, {"lr": 1e-2}),
    (Adam, torch.optim.Adam, {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    (Adam, torch.optim.Adam, {"lr": 1e-2, "weight_decay": 1e-2, "amsgrad": True}),
    (AdamW, torch.optim.AdamW, {"lr": 1e-2}),
    (AdamW, torch.optim.AdamW, {"lr": 1e-2, "weight_decay": 0.1, "amsgrad": True}),
]


def _case_id(case: tuple[type, type, dict[str, Any]]) -> str:
    return f"{case[0].__name__}-" + "-".join(f"{k}={v}" for k, v in case[2].items())


def _start(seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {n: torch.randn(s, dtype=torch.float64, generator=gen) for n, s in SHAPES.items()}


def _gradients(seed: int = 1) -> list[dict[str, torch.Tensor]]:
    """The gradient sequence fed to both optimizers (large and tiny entries alike)."""
    gen = torch.Generator().manual_seed(seed)
    return [
        {
            n: torch.randn(s, dtype=torch.float64, generator=gen) * 10.0 ** (i % 5 - 2)
            for n, s in SHAPES.items()
        }
        for i in range(STEPS)
    ]


def _run_ours(cls: type[Optimizer], hyper: dict[str, Any], grads_seq, opt=None, params=None):
    params = _start() if params is None else params
    grads = {n: torch.zeros_like(p) for n, p in params.items()}
    opt = cls(params, grads, **hyper) if opt is None else opt
    for step_grads in grads_seq:
        for n, g in step_grads.items():
            opt.grads[n].copy_(g)
        opt.step()
    return opt.params, opt


def _run_torch(cls: type[torch.optim.Optimizer], hyper: dict[str, Any], grads_seq):
    params = {n: torch.nn.Parameter(p) for n, p in _start().items()}
    opt = cls(list(params.values()), foreach=False, **hyper)
    for step_grads in grads_seq:
        for n, g in step_grads.items():
            params[n].grad = g.clone()
        opt.step()
    return {n: p.detach() for n, p in params.items()}


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_update_rule_matches_torch_optim_for_100_steps_float64(case) -> None:
    ours_cls, torch_cls, hyper = case
    grads_seq = _gradients()
    ours, _ = _run_ours(ours_cls, hyper, grads_seq)
    theirs = _run_torch(torch_cls, hyper, grads_seq)
    for name in SHAPES:
        torch.testing.assert_close(ours[name], theirs[name], rtol=1e-12, atol=0)
        assert not torch.equal(ours[name], _start()[name])  # it did move


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_state_dict_round_trip_through_torch_save_continues_identically(case) -> None:
    ours_cls, _, hyper = case
    grads_seq = _gradients()
    uninterrupted, _ = _run_ours(ours_cls, hyper, grads_seq)

    first, opt = _run_ours(ours_cls, hyper, grads_seq[:40])
    buffer = io.BytesIO()
    torch.save({"params": first, "optimizer": opt.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    params = saved["params"]
    fresh = ours_cls(params, {n: torch.zeros_like(p) for n, p in params.items()}, **hyper)
    fresh.load_state_dict(saved["optimizer"])
    resumed, _ = _run_ours(ours_cls, hyper, grads_seq[40:], opt=fresh, params=params)
    for name in SHAPES:
        assert torch.equal(resumed[name], uninterrupted[name])


def test_sgd_follows_a_learning_rate_changed_between_steps() -> None:
    p, g = torch.ones(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    opt = SGD({"p": p}, {"p": g}, lr=0.1)
    opt.step()
    opt.lr = 0.01
    opt.step()
    torch.testing.assert_close(p, torch.full((3,), 1 - 0.1 - 0.01, dtype=torch.float64))


def test_plain_sgd_keeps_no_state_and_updates_the_parameter_tensor_in_place() -> None:
    p, g = torch.zeros(4), torch.ones(4)
    opt = SGD({"p": p}, {"p": g}, lr=0.5)
    opt.step()
    assert opt.params["p"] is p and torch.equal(p, torch.full((4,), -0.5))
    assert opt.state == {"p": {}}


@pytest.mark.parametrize(
    ("cls", "hyper", "message"),
    [
        (SGD, {"nesterov": True}, r"nesterov=True needs momentum > 0 and dampening = 0"),
        (SGD, {"momentum": -0.1}, r"momentum=-0.1 must be >= 0"),
        (Adam, {"betas": (0.9, 1.0)}, r"betas=\(0.9, 1.0\) must be two numbers in \[0, 1\)"),
        (AdamW, {"eps": -1.0}, r"AdamW: eps=-1.0 must be >= 0"),
    ],
)
def test_bad_hyperparameters_are_config_errors_naming_the_value(cls, hyper, message) -> None:
    with pytest.raises(ConfigError, match=message):
        cls({"p": torch.zeros(1)}, {"p": torch.zeros(1)}, **hyper)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_update_rule_on_cuda_matches_cpu(case) -> None:
    ours_cls, _, hyper = case
    grads_seq = _gradients()[:10]
    cpu, _ = _run_ours(ours_cls, hyper, grads_seq)
    cuda_params = {n: p.cuda() for n, p in _start().items()}
    cuda_seq = [{n: g.cuda() for n, g in s.items()} for s in grads_seq]
    cuda, _ = _run_ours(ours_cls, hyper, cuda_seq, params=cuda_params)
    for name in SHAPES:
        torch.testing.assert_close(cuda[name].cpu(), cpu[name], rtol=1e-12, atol=1e-12)
