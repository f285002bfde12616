"""Learning-rate schedules give torch.optim.lr_scheduler's rates, step by step."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
from corebp_optim.schedules import Constant, Cosine, Exponential, Step, WarmupLinear
from torch.optim import lr_scheduler as tls

from corebp.contracts.schedule import Schedule
from corebp.errors import ConfigError

BASE_LR, STEPS_PER_EPOCH, EPOCHS = 0.1, 7, 9
TOTAL = STEPS_PER_EPOCH * EPOCHS


def _torch_rates(make: Callable[[torch.optim.Optimizer], tls.LRScheduler], per_epoch: bool):
    """The lr torch uses for each of TOTAL updates, stepping its scheduler per epoch or update."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=BASE_LR)
    sched = make(opt)
    rates = []
    for t in range(TOTAL):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        if not per_epoch or (t + 1) % STEPS_PER_EPOCH == 0:
            sched.step()
    return rates


def _ours(schedule: Schedule) -> list[float]:
    return [schedule.lr_at(t) for t in range(TOTAL)]


CASES = [
    ("step", Step, {"step_size": 2, "gamma": 0.5}, lambda o: tls.StepLR(o, 2, 0.5), True),
    ("exponential", Exponential, {"gamma": 0.8}, lambda o: tls.ExponentialLR(o, 0.8), True),
    ("cosine", Cosine, {"min_lr": 1e-3}, lambda o: tls.CosineAnnealingLR(o, TOTAL, 1e-3), False),
    (
        "warmup_linear-constant",
        WarmupLinear,
        {"warmup_steps": 10},
        lambda o: tls.LinearLR(o, start_factor=1 / 10, total_iters=9),
        False,
    ),
    (
        "warmup_linear-cosine",
        WarmupLinear,
        {"warmup_steps": 10, "then": "cosine"},
        lambda o: tls.SequentialLR(
            o,
            [tls.LinearLR(o, 1 / 10, total_iters=9), tls.CosineAnnealingLR(o, TOTAL - 10)],
            milestones=[10],
        ),
        False,
    ),
]


@pytest.mark.parametrize(
    ("cls", "args", "make", "per_epoch"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_schedule_matches_torch_lr_scheduler(cls, args, make, per_epoch) -> None:
    ours = _ours(cls(BASE_LR, STEPS_PER_EPOCH, TOTAL, **args))
    theirs = _torch_rates(make, per_epoch)
    assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15)


def test_constant_schedule_never_changes() -> None:
    assert set(_ours(Constant(BASE_LR, STEPS_PER_EPOCH, TOTAL))) == {BASE_LR}


def test_cosine_reaches_min_lr_at_the_last_step_and_stays_there() -> None:
    sched = Cosine(BASE_LR, steps_per_epoch=10, total_steps=100, min_lr=0.01)
    assert sched.lr_at(0) == BASE_LR
    assert sched.lr_at(100) == sched.lr_at(150) == pytest.approx(0.01, rel=1e-15)
    assert sched.lr_at(50) == pytest.approx(0.01 + (BASE_LR - 0.01) / 2, rel=1e-12)


def test_warmup_epochs_counts_whole_epochs_of_steps() -> None:
    sched = WarmupLinear(BASE_LR, STEPS_PER_EPOCH, TOTAL, warmup_epochs=2)
    assert sched.warmup_steps == 2 * STEPS_PER_EPOCH
    assert sched.lr_at(0) == pytest.approx(BASE_LR / 14)
    assert sched.lr_at(13) == sched.lr_at(14) == BASE_LR


def test_step_schedule_counts_its_step_size_in_epochs() -> None:
    sched = Step(1.0, steps_per_epoch=10, total_steps=100, step_size=3, gamma=0.1)
    assert [sched.lr_at(t) for t in (0, 29, 30, 59, 60)] == pytest.approx([1, 1, 0.1, 0.1, 0.01])
    assert math.isclose(sched.lr_at(90), 1e-3)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: WarmupLinear(0.1, 5, 50, warmup_steps=3, warmup_epochs=1), r"give only one"),
        (lambda: WarmupLinear(0.1, 5, 50, then="linear"), r"then='linear' is not a known"),
        (lambda: Step(0.1, 5, 50, step_size=0), r"step_size=0 must be a whole number"),
        (lambda: Cosine(0.1, 5, 0), r"total_steps=0 must be >= 1"),
    ],
)
def test_bad_schedule_arguments_are_config_errors(make, message) -> None:
    with pytest.raises(ConfigError, match=message):
        make()
