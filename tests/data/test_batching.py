"""The in-memory batching every source shares: shuffling, drop_last, validation, device, dtype."""

from __future__ import annotations

import pytest
import torch
from corebp_data.tensors import TensorSource

from corebp.errors import ConfigError

N = 103


def make(**kw) -> TensorSource:
    x = torch.arange(N, dtype=torch.float64).unsqueeze(1).repeat(1, 3)
    y = torch.arange(N) % 4
    return TensorSource(train=(x, y), test=(x[:10], y[:10]), **kw)


def ids(batches) -> list[int]:
    return [int(v) for x, _ in batches for v in x[:, 0]]


def test_one_epoch_yields_every_example_once_last_partial_batch_kept():
    source = make()
    batches = list(source.batches("train", 32, shuffle=True))
    assert [len(x) for x, _ in batches] == [32, 32, 32, 7]
    assert sorted(ids(batches)) == list(range(N))
    for x, y in batches:
        assert torch.equal(y, x[:, 0].long() % 4), "labels travel with their examples"


def test_drop_last_drops_only_the_partial_batch():
    batches = list(make().batches("train", 32, drop_last=True))
    assert [len(x) for x, _ in batches] == [32, 32, 32]
    assert ids(batches) == list(range(96))


def test_unshuffled_batches_are_in_file_order():
    assert ids(make().batches("train", 10)) == list(range(N))


def test_shuffling_repeats_for_a_seed_and_differs_between_epochs_and_seeds():
    a, b, c = make(seed=5), make(seed=5), make(seed=6)
    first_a, first_b = (
        ids(a.batches("train", 8, shuffle=True)),
        ids(b.batches("train", 8, shuffle=True)),
    )
    assert first_a == first_b
    assert ids(a.batches("train", 8, shuffle=True)) != first_a, "the next epoch is reshuffled"
    assert ids(c.batches("train", 8, shuffle=True)) != first_a


def test_a_passed_generator_drives_the_shuffle():
    source = make(seed=0)
    one = ids(source.batches("train", 8, shuffle=True, generator=torch.Generator().manual_seed(3)))
    two = ids(source.batches("train", 8, shuffle=True, generator=torch.Generator().manual_seed(3)))
    assert one == two
    assert one == torch.randperm(N, generator=torch.Generator().manual_seed(3)).tolist()


def test_validation_split_holds_out_a_seeded_disjoint_share():
    source = make(validation_split=0.2, seed=1)
    assert source.splits() == ["train", "val", "test"]
    assert source.num_examples("val") == round(0.2 * N)
    train, val = set(ids(source.batches("train", 50))), set(ids(source.batches("val", 50)))
    assert not train & val and train | val == set(range(N))
    assert set(ids(make(validation_split=0.2, seed=1).batches("val", 50))) == val
    assert set(ids(make(validation_split=0.2, seed=2).batches("val", 50))) != val


@pytest.mark.parametrize("bad", [-0.1, 1.0, 0.001])
def test_bad_validation_split_is_refused(bad):
    with pytest.raises(ConfigError, match="validation_split"):
        make(validation_split=bad)


def test_unknown_split_and_bad_batch_size_are_config_errors():
    source = make()
    with pytest.raises(ConfigError, match=r"split 'val'.*set validation_split"):
        source.batches("val", 4)
    with pytest.raises(ConfigError, match="Did you mean 'train'"):
        source.batches("trian", 4)
    with pytest.raises(ConfigError, match="batch_size: 0"):
        source.batches("train", 0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_batches_have_the_requested_dtype_and_int64_labels(dtype):
    x, y = next(make(dtype=dtype).batches("train", 16, shuffle=True))
    assert x.dtype == dtype and y.dtype == torch.int64
    assert x.shape == (16, 3) and make().input_shape == (3,)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_batches_live_on_the_requested_device():
    source = make(device="cuda")
    x, y = next(source.batches("train", 16, shuffle=True))
    assert x.is_cuda and y.is_cuda
    assert sorted(ids(source.batches("train", 16, shuffle=True))) == list(range(N))


def test_shuffled_batches_stay_valid_after_the_next_epoch_and_unshuffled_ones_are_views():
    source = make()
    gen = torch.Generator().manual_seed(0)
    first = [x.clone() for x, _ in source.batches("train", 32, shuffle=True, generator=gen)]
    kept = list(source.batches("train", 32, shuffle=True, generator=gen.manual_seed(0)))
    list(source.batches("train", 32, shuffle=True, generator=gen))  # the next epoch
    assert all(torch.equal(a, b) for a, (b, _) in zip(first, kept, strict=True))
    unshuffled = next(source.batches("train", 32))[0]
    assert unshuffled.untyped_storage().data_ptr() == source._split("train")[0].data_ptr()
