"""Metrics accumulated over batches of unequal size equal the same metric on the whole data."""

from __future__ import annotations

import pytest
import torch
from corebp_metrics import Accuracy, ConfusionMatrix, Loss, PerClassAccuracy, TopKAccuracy

from corebp.contracts.metric import Metric
from corebp.errors import ConfigError

N, C = 103, 6
SPLITS = [[32, 32, 32, 7], [1, 50, 52], [103]]


def _data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Outputs (N, C), targets (N,) with class C-1 never a target, per-sample losses (N,)."""
    gen = torch.Generator().manual_seed(seed)
    output = torch.randn(N, C, dtype=torch.float64, generator=gen)
    target = torch.randint(0, C - 1, (N,), generator=gen)
    per_sample = torch.rand(N, dtype=torch.float64, generator=gen) * 3
    return output, target, per_sample


def _accumulate(metric: Metric, sizes: list[int]):
    output, target, per_sample = _data()
    for out, tgt, losses in zip(
        output.split(sizes), target.split(sizes), per_sample.split(sizes), strict=True
    ):
        metric.update(out, tgt, losses.sum())
    return metric.compute()


def _whole_confusion() -> list[list[int]]:
    output, target, _ = _data()
    counts = [[0] * C for _ in range(C)]
    for pred, true in zip(output.argmax(1).tolist(), target.tolist(), strict=True):
        counts[true][pred] += 1
    return counts


@pytest.mark.parametrize("sizes", SPLITS)
def test_loss_is_the_mean_over_samples_not_over_batches(sizes: list[int]) -> None:
    assert _accumulate(Loss(C), sizes) == pytest.approx(_data()[2].mean().item(), rel=1e-14)


@pytest.mark.parametrize("sizes", SPLITS)
def test_accuracy_equals_whole_dataset_top1_percent(sizes: list[int]) -> None:
    output, target, _ = _data()
    expected = 100.0 * (output.argmax(1) == target).sum().item() / N
    assert _accumulate(Accuracy(C), sizes) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("sizes", SPLITS)
@pytest.mark.parametrize("k", [1, 3, 5])
def test_top_k_accuracy_equals_whole_dataset_percent(sizes: list[int], k: int) -> None:
    output, target, _ = _data()
    ranked = output.argsort(dim=1, descending=True)[:, :k].tolist()
    expected = 100.0 * sum(t in r for r, t in zip(ranked, target.tolist(), strict=True)) / N
    assert _accumulate(TopKAccuracy(C, k=k), sizes) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("sizes", SPLITS)
def test_confusion_matrix_rows_are_true_classes(sizes: list[int]) -> None:
    assert _accumulate(ConfusionMatrix(C), sizes) == _whole_confusion()


@pytest.mark.parametrize("sizes", SPLITS)
def test_per_class_accuracy_is_none_for_a_class_without_samples(sizes: list[int]) -> None:
    counts = _whole_confusion()
    expected = [100.0 * counts[i][i] / sum(counts[i]) for i in range(C - 1)] + [None]
    assert _accumulate(PerClassAccuracy(C), sizes) == expected


def test_reset_forgets_earlier_batches() -> None:
    metric = Accuracy(C)
    _accumulate(metric, [N])
    metric.reset()
    output, target, per_sample = _data(seed=1)
    metric.update(output, target, per_sample.sum())
    expected = 100.0 * (output.argmax(1) == target).sum().item() / N
    assert metric.compute() == pytest.approx(expected, rel=1e-14)


def test_top_k_larger_than_the_number_of_classes_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"k=5 must be between 1 and num_classes=3"):
        TopKAccuracy(3, k=5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("cls", [Loss, Accuracy, TopKAccuracy, ConfusionMatrix, PerClassAccuracy])
def test_metric_on_cuda_matches_cpu(cls: type[Metric]) -> None:
    output, target, per_sample = _data()
    on_cuda = cls(C)
    for out, tgt, losses in zip(
        output.split(10), target.split(10), per_sample.split(10), strict=True
    ):
        on_cuda.update(out.cuda(), tgt.cuda(), losses.sum().cuda())
    on_cpu = _accumulate(cls(C), [N])
    if isinstance(on_cpu, float):  # sums may be added in another order on the device
        assert on_cuda.compute() == pytest.approx(on_cpu, rel=1e-12)
    else:
        assert on_cuda.compute() == on_cpu
