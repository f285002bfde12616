"""SGD, Adam and AdamW: what the conformance kit does not cover.

Their torch.optim comparison (100 float64 steps, relative 1e-12) and state_dict round trip
are the kit's (`corebp.testing`), run on every set of their `check_args` by
tests/plugins/test_conformance.py.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from corebp_optim import SGD, Adam, AdamW

from corebp.contracts.optimizer import Optimizer
from corebp.errors import ConfigError
from corebp.testing import optimizers as kit

#: (class, hyperparameters): every argument set the kit checks against torch.optim.
CASES = [(cls, args) for cls in (SGD, Adam, AdamW) for args in cls.check_args]


def _case_id(case: tuple[type, dict[str, Any]]) -> str:
    return f"{case[0].__name__}-" + "-".join(f"{k}={v}" for k, v in case[1].items())


def test_the_kit_compares_every_rule_with_its_torch_counterpart() -> None:
    assert {cls: cls.torch_counterpart for cls in (SGD, Adam, AdamW)} == {
        SGD: torch.optim.SGD,
        Adam: torch.optim.Adam,
        AdamW: torch.optim.AdamW,
    }
    assert kit.STEPS == 100 and kit.TORCH_RTOL == 1e-12  # as docs/optimizers.md says


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


def _run(cls: type[Optimizer], hyper: dict[str, Any], device: str) -> dict[str, torch.Tensor]:
    params = {n: p.to(device) for n, p in kit._start().items()}
    opt = kit._build(cls, hyper, params)
    kit._run(opt, [{n: g.to(device) for n, g in s.items()} for s in kit._gradients()[:10]])
    return {n: p.cpu() for n, p in opt.params.items()}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_update_rule_on_cuda_matches_cpu(case) -> None:
    cls, hyper = case
    cpu, cuda = _run(cls, hyper, "cpu"), _run(cls, hyper, "cuda")
    for name, p in cpu.items():
        torch.testing.assert_close(cuda[name], p, rtol=1e-12, atol=1e-12)
