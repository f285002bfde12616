"""Every registered layer, loss, optimizer, metric, data source and learning rule passes
corebp's own conformance kit (corebp.testing), one test per property and argument set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from corebp_data.files import CsvSource, NpzSource

from corebp.plugins import load_registry
from corebp.testing import assert_conforms, conformance_checks

SWEPT_KINDS = ("layers", "losses", "optimizers", "metrics", "data_sources", "learning_rules")
#: Registered components the sweep leaves out, and why.
NOT_SWEPT = {
    "fashion_mnist": "its files may not be downloaded; the same class as mnist, which is swept",
    "kmnist": "its files may not be downloaded; the same class as mnist, which is swept",
    "npz": "reads a file: test_file_sources_conform makes one",
    "csv": "reads a file: test_file_sources_conform makes one",
    "cifar10": "reads a tarball: tests/data/test_cifar10.py makes one and sweeps it",
}
#: Reading MNIST's 70 000 images per build makes its checks take ~30 s.
HEAVY = {"mnist": (pytest.mark.mnist, pytest.mark.slow)}


def _cases() -> list:
    registry = load_registry()
    cases = []
    for kind in SWEPT_KINDS:
        for name, component in sorted(registry.components[kind].items()):
            if name in NOT_SWEPT:
                continue
            marks = HEAVY.get(name, ())
            for check in conformance_checks(component.obj):
                cases.append(pytest.param(check, id=f"{name}-{check.id}", marks=marks))
    return cases


@pytest.mark.parametrize("check", _cases())
def test_registered_component_conforms(check) -> None:
    check()


def test_the_sweep_leaves_out_only_what_it_says() -> None:
    registry = load_registry()
    registered = {n for kind in SWEPT_KINDS for n in registry.components[kind]}
    assert set(NOT_SWEPT) <= registered


def test_file_sources_conform(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (40, 3, 2), dtype=np.uint8), np.arange(40) % 4
    np.savez(tmp_path / "data.npz", x_train=x, y_train=y, x_test=x[:9], y_test=y[:9])
    assert_conforms(NpzSource, [{"path": "data.npz", "root": str(tmp_path), "divide_by": 2.0}])
    table = np.column_stack([x.reshape(40, -1), y])
    np.savetxt(tmp_path / "train.csv", table, delimiter=",", fmt="%d")
    assert_conforms(
        CsvSource,
        [{"train": str(tmp_path / "train.csv"), "label_column": -1, "divide_by": 255.0}],
    )
