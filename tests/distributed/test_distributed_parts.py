"""The parts of data-parallel training that need no second process: sharding, the flat
gradient buffer, per-rank seeds, and what is refused before a process group is joined."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import typer
from corebp_data.tensors import TensorSource
from corebp_optim.sgd import SGD
from typer.testing import CliRunner

from corebp import Linear, MSELoss, Sequential, Sigmoid
from corebp.cli import run, validate
from corebp.errors import ConfigError
from corebp.layers.dropout import Dropout
from corebp.recipe.schema import DistributedSpec
from corebp.training.distributed import (
    ALIGN_BYTES,
    flatten_grads,
    require_shard,
    resolve_backend,
    seed_rank,
    world_size,
)

app = typer.Typer()
app.command("run")(run.command)
app.command("validate")(validate.command)


def _source(n: int) -> TensorSource:
    x = torch.arange(n * 2, dtype=torch.float64).reshape(n, 2)
    return TensorSource(dtype=torch.float64, train=(x, torch.arange(n) % 3))


def _batches(source: TensorSource, **kw) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(7)
    return list(source.batches("train", 32, shuffle=True, generator=gen, **kw))


def test_each_rank_gets_its_tensor_split_part_of_every_global_batch_ragged_last_too():
    source = _source(32 + 17)
    whole = _batches(source)
    ranks = [_batches(source, shard=(r, 2)) for r in range(2)]
    assert [len(x) for x, _ in ranks[0]] == [16, 9] and [len(x) for x, _ in ranks[1]] == [16, 8]
    for (x, y), (x0, y0), (x1, y1) in zip(whole, *ranks, strict=True):
        assert torch.equal(torch.cat([x0, x1]), x) and torch.equal(torch.cat([y0, y1]), y)


def test_a_shard_outside_the_world_is_refused():
    with pytest.raises(ConfigError, match=r"shard: \(2, 2\); expected \(rank, world\)"):
        _batches(_source(8), shard=(2, 2))


def test_a_source_whose_batches_take_no_shard_is_refused_for_data_parallel():
    def batches(split, batch_size, *, shuffle=False, drop_last=False, generator=None):
        return iter(())

    with pytest.raises(ConfigError, match=r"data.source 'mine': .* takes no `shard`.* 2 proc"):
        require_shard(batches, 2, "data.source 'mine'")


def test_flattened_gradients_are_views_of_one_buffer_the_optimizer_already_holds():
    torch.manual_seed(0)
    model = Sequential(Linear(3, 4), Sigmoid(), Linear(4, 2)).to(dtype=torch.float64)
    optimizer = SGD(model.params, model.grads, lr=0.1)
    before = {k: g.clone() for k, g in model.grads.items()}
    flat = flatten_grads(model.grads, torch.float64)
    assert all(torch.equal(model.grads[k], before[k]) for k in before)
    base = flat.data_ptr()
    for g in model.grads.values():
        assert g.untyped_storage().data_ptr() == flat.untyped_storage().data_ptr()
        assert base <= g.data_ptr() and g.data_ptr() + g.nbytes <= base + flat.nbytes - 8

    loss = MSELoss()
    loss.forward(model(torch.randn(5, 3, dtype=torch.float64)), torch.randn(5, 2))
    model.backward(loss.backward(), False)
    gaps = flat[:-1].clone()
    for g in model.grads.values():
        start = (g.data_ptr() - base) // 8
        assert torch.equal(flat[start : start + g.numel()], g.reshape(-1))
        gaps[start : start + g.numel()] = 0
    assert not gaps.any()  # the backward wrote only into the views
    flat[:-1] = 1.0  # what an all-reduce does: writes the buffer
    weight = model.params["0.W"].clone()
    optimizer.step()
    assert torch.equal(model.params["0.W"], weight - 0.1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_each_flattened_gradient_starts_aligned_as_a_tensor_of_its_own(dtype):
    """A 3-wide bias puts the next gradient 12 or 24 bytes past a 64-byte boundary when the
    views are packed; a product written into such a view took another MKL code path on an AMD
    EPYC and differed from one process's by 1 ulp (tests/distributed/test_local_data_parallel)."""
    model = Sequential(Linear(2, 16), Sigmoid(), Linear(16, 3), Linear(3, 5)).to(dtype=dtype)
    base = flatten_grads(model.grads, dtype).data_ptr()
    assert ALIGN_BYTES % 64 == 0 and base % 64 == 0  # torch's CPU allocator aligns to 64
    for name, g in model.grads.items():
        assert (g.data_ptr() - base) % ALIGN_BYTES == 0, name
        assert g.data_ptr() % 64 == 0, name


def test_ranks_above_0_draw_their_own_dropout_masks_rank_0_keeps_its_stream():
    def masks(rank: int) -> tuple[torch.Tensor, torch.Tensor]:
        torch.manual_seed(0)
        model = Sequential(Dropout(0.5), Dropout(0.5, seed=3))
        seed_rank(model, 0, rank)
        model(torch.ones(64))
        return model.layers[0].mask, model.layers[1].mask

    torch.manual_seed(0)
    alone = Sequential(Dropout(0.5), Dropout(0.5, seed=3))
    alone(torch.ones(64))
    rank0, rank1 = masks(0), masks(1)
    assert torch.equal(rank0[0], alone.layers[0].mask)
    assert torch.equal(rank0[1], alone.layers[1].mask)
    assert not torch.equal(rank1[0], rank0[0]) and not torch.equal(rank1[1], rank0[1])


def test_backend_auto_is_gloo_on_cpu_nccl_on_cuda_and_nccl_needs_cuda():
    assert resolve_backend(DistributedSpec(), torch.device("cpu")) == "gloo"
    assert resolve_backend(DistributedSpec(), torch.device("cuda")) == "nccl"
    with pytest.raises(ConfigError, match="backend: 'nccl' reduces CUDA tensors only"):
        resolve_backend(DistributedSpec(backend="nccl"), torch.device("cpu"))


def test_a_world_size_that_is_not_a_count_is_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ConfigError, match="WORLD_SIZE='two'; expected a positive whole number"):
        world_size()
    monkeypatch.delenv("WORLD_SIZE")
    assert world_size() == 1


@pytest.mark.parametrize("command", ["validate", "run"])
def test_the_twin_is_refused_over_more_than_one_process(
    command: str, spirals: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("WORLD_SIZE", "2")
    out = tmp_path / "run"
    args = [command, str(spirals), "checks.autograd.twin=true"]
    result = CliRunner().invoke(app, args + (["-o", str(out)] if command == "run" else []))
    assert isinstance(result.exception, ConfigError)
    assert "checks.autograd.twin: true, but this run is data-parallel over 2" in str(
        result.exception
    )
    assert not out.exists()
