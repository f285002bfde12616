"""corebp first-party plugin: data sources.

MNIST, Fashion-MNIST and KMNIST read from torchvision's on-disk layout into memory (and
fetched, verified by MD5, when missing), plus sources for your own data: tensors from
Python, `.npz` and `.csv` files, and generated spirals/blobs; and the `corebp data fetch`
command. See docs/data.md.
"""

from __future__ import annotations

import typer

from corebp.hookspecs import hookimpl
from corebp_data import commands
from corebp_data.files import CsvSource, NpzSource
from corebp_data.memory import InMemorySource
from corebp_data.mnist import KMNIST, MNIST, FashionMNIST
from corebp_data.synthetic import SyntheticSource
from corebp_data.tensors import TensorSource

__all__ = [
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
def corebp_register_data_sources():
    return {
        "mnist": MNIST,
        "fashion_mnist": FashionMNIST,
        "kmnist": KMNIST,
        "tensors": TensorSource,
        "npz": NpzSource,
        "csv": CsvSource,
        "synthetic": SyntheticSource,
    }


@hookimpl
def corebp_register_commands(cli: typer.Typer) -> None:
    cli.add_typer(commands.app, name="data")
