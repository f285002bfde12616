"""corebp first-party plugin: data sources.

MNIST, Fashion-MNIST and KMNIST read from torchvision's on-disk layout into memory (and
fetched, verified by MD5, when missing), CIFAR-10 from its python tarball, plus sources for
your own data: tensors from Python, `.npz` and `.csv` files, and generated spirals/blobs;
and the `corebp data fetch` command. See docs/data.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from corebp.hookspecs import hookimpl
from corebp.util.lazy import lazy_attributes

if TYPE_CHECKING:
    import typer

    from corebp.contracts.data_source import DataSource
    from corebp_data.cifar10 import CIFAR10
    from corebp_data.files import CsvSource, NpzSource
    from corebp_data.memory import InMemorySource
    from corebp_data.mnist import KMNIST, MNIST, FashionMNIST
    from corebp_data.synthetic import SyntheticSource
    from corebp_data.tensors import TensorSource

# The sources import torch: only on first use, so that `corebp --help` stays fast.
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "corebp_data.cifar10": ["CIFAR10"],
        "corebp_data.files": ["CsvSource", "NpzSource"],
        "corebp_data.memory": ["InMemorySource"],
        "corebp_data.mnist": ["KMNIST", "MNIST", "FashionMNIST"],
        "corebp_data.synthetic": ["SyntheticSource"],
        "corebp_data.tensors": ["TensorSource"],
    },
)

__all__ = [
    "CIFAR10",
    "KMNIST",
    "MNIST",
    "CsvSource",
    "FashionMNIST",
    "InMemorySource",
    "NpzSource",
    "SyntheticSource",
    "TensorSource",
]


@hookimpl
def corebp_register_data_sources() -> dict[str, type[DataSource]]:
    from corebp_data.cifar10 import CIFAR10
    from corebp_data.files import CsvSource, NpzSource
    from corebp_data.mnist import KMNIST, MNIST, FashionMNIST
    from corebp_data.synthetic import SyntheticSource
    from corebp_data.tensors import TensorSource

    return {
        "mnist": MNIST,
        "fashion_mnist": FashionMNIST,
        "kmnist": KMNIST,
        "cifar10": CIFAR10,
        "tensors": TensorSource,
        "npz": NpzSource,
        "csv": CsvSource,
        "synthetic": SyntheticSource,
    }


@hookimpl
def corebp_register_commands(cli: typer.Typer) -> None:
    from corebp_data import commands

    cli.add_typer(commands.app, name="data")
