"""The learning rule `local` under data parallelism (issue 21): with `loss: pred` two torchrun
ranks give one process's gradients and weights, the auxiliary classifiers' included; `sim`
and `predsim`, which compare the examples of a batch with each other, are refused."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from corebp_rules import LocalLosses
from record_steps import ShardSum, record
from torchrun_launch import torchrun

from corebp.layers import Linear, Tanh
from corebp.layers.sequential import Sequential
from corebp.losses import CrossEntropyLoss
from corebp.training.distributed import reduced_grads
from tests.recipes.conftest import write_synthetic_recipe

HERE = Path(__file__).parent
pytestmark = pytest.mark.usefixtures("single_process")

# The spirals (a ragged last batch), float64; SGD with momentum, so the classifiers have
# optimizer state of their own. The recipe's loss is a sum; "mean" makes it a mean.
PRED = [
    "train.dtype=float64",
    "checks.autograd=null",
    "learning_rule={type: local, loss: pred}",
    "optimizer.momentum=0.9",
]
CASES = {"sum": PRED, "mean": [*PRED, "loss.reduction=mean"]}


def test_two_ranks_give_one_process_gradients_and_weights_auxiliary_ones_included(
    spirals: Path, tmp_path: Path
):
    (tmp_path / "two").mkdir()
    (tmp_path / "one").mkdir()
    done = torchrun(
        str(HERE / "record_steps.py"), str(tmp_path / "two"), str(spirals), json.dumps(CASES),
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    # One process, one thread as each rank has, combining each batch's two halves as the
    # all-reduce does: the same operations, so the results must be equal.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        record(tmp_path / "one", str(spirals), CASES, shards=2)
    finally:
        torch.set_num_threads(threads)
    for case in CASES:
        two = torch.load(tmp_path / "two" / f"{case}.pt")
        one = torch.load(tmp_path / "one" / f"{case}.pt")
        assert len(one["grads"]) == len(two["grads"]) > 1, case
        assert {"learning_rule.pred.1.W", "learning_rule.pred.1.b", "0.W"} <= one["grads"][0].keys()
        for step, (g1, g2) in enumerate(zip(one["grads"], two["grads"], strict=True)):
            assert g1.keys() == g2.keys(), (case, step)
            for k in g1:
                assert torch.equal(g2[k], g1[k]), (case, step, k)
        assert {"pred.1.W", "pred.1.b", "0.W"} <= one["params"].keys() == two["params"].keys()
        for k, p in one["params"].items():
            assert torch.equal(two["params"][k], p), (case, k)
        assert one["params"]["pred.1.W"].abs().sum() > 0  # the classifier did learn


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_preds_gradient_of_a_batch_is_its_halves_combined_as_the_all_reduce_does(reduction):
    """What the ranks reproduce above is the whole batch's gradient: pred's loss is a sum (or
    mean) of the examples' own, so the halves' gradients combined as `DataParallel.all_reduce`
    combines them (`ShardSum`) equal one backward of the whole batch, up to the order of the
    sums over examples."""
    torch.manual_seed(0)
    model = Sequential(
        Linear(6, 7, init="xavier"), Tanh(), Linear(7, 5, init="xavier"), Tanh(), Linear(5, 4)
    ).to(dtype=torch.float64)
    rule = LocalLosses(loss="pred", input_shape=[6])
    rule.attach(model)
    with torch.no_grad():  # a nonzero classifier, so that its error reaches the hidden block
        for p in rule.params.values():
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(5)))
    loss = CrossEntropyLoss(reduction)
    n = 8
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(n, 6, generator=g, dtype=torch.float64), torch.randint(0, 4, (n,))
    grads = reduced_grads(model, rule)
    assert {"learning_rule.pred.1.W", "learning_rule.pred.3.b"} <= grads.keys()

    def step(xs: torch.Tensor, ys: torch.Tensor) -> dict[str, torch.Tensor]:
        model.zero_grad()
        rule.train_step(model, loss, xs, ys)
        return {k: t.clone() for k, t in grads.items()}

    whole = step(x, y)
    ShardSum(2).corebp_after_backward(
        SimpleNamespace(model=model, loss=loss, learning_rule=rule), x, y
    )
    halves = {k: t.clone() for k, t in grads.items()}
    # Bound: n and the halves' sizes are powers of 2, so every scale on the way (1/n, 1/(n/2),
    # the all-reduce's · n/2 and / n) is exact, and both ways compute each example's term t_i
    # by the same operations; they differ only in the order of the sums over the examples,
    # each within γ_n·Σ|t_i| of the exact sum of the terms (Higham, "Accuracy and Stability of
    # Numerical Algorithms", 2002, (3.5)), so within 2γ_n·Σ|t_i| of each other.
    u = torch.finfo(torch.float64).eps / 2
    gamma = n * u / (1 - n * u)
    scale = 1 / n if reduction == "mean" else 1.0
    terms = {k: torch.zeros_like(t) for k, t in whole.items()}
    for i in range(n):
        for k, t in step(x[i : i + 1], y[i : i + 1]).items():
            terms[k] += t.abs() * scale
    for k, t in whole.items():
        assert t.abs().sum() > 0, k
        assert ((halves[k] - t).abs() <= 2 * gamma * terms[k]).all(), k


@pytest.mark.parametrize("loss", ["sim", "predsim"])
def test_validate_refuses_sim_and_predsim_data_parallel_naming_why(
    loss, tmp_path, monkeypatch, corebp_cli
):
    path = write_synthetic_recipe(
        tmp_path / "r.yaml", f"learning_rule={{type: local, loss: {loss}}}"
    )
    monkeypatch.setenv("WORLD_SIZE", "2")
    code, out, err = corebp_cli("validate", str(path))
    assert (code, out) == (2, "")
    assert err == (
        f"corebp: error: learning_rule: local: loss={loss!r} does not train data-parallel "
        "(this run has 2 processes): its sim loss compares every pair of examples in a batch, "
        "and a process sees only its share of the batch; set learning_rule.loss=pred, or run "
        "without torchrun.\n"
    )
    path = write_synthetic_recipe(tmp_path / "r.yaml", "learning_rule={type: local, loss: pred}")
    assert corebp_cli("validate", str(path))[0] == 0
