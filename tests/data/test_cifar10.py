"""The cifar10 source on a miniature tarball in the canonical layout: the real loading code,
its checks, and a 3-channel LeNet trained, asked to predict and exported from it."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from corebp_data.cifar10 import CIFAR10, MD5, NORMALIZE
from PIL import Image
from torchvision import transforms

from corebp.errors import ConfigError, DataError
from corebp.inference.trained import open_run
from corebp.recipe import load_recipe
from corebp.testing import assert_conforms
from corebp.training.run import run_recipe

NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
PER_BATCH, TEST = 8, 6


def _pickled(obj: object) -> bytes:
    # Protocol 4: bytes and numpy arrays by the same globals as the canonical Python 2 pickles.
    return pickle.dumps(obj, protocol=4)


def make_tarball(path: Path, *, test_batch: bytes | None = None) -> dict[str, np.ndarray]:
    """cifar-10-python.tar.gz in miniature: the canonical members and dicts, few images."""
    rng = np.random.default_rng(0)
    members, made = {}, {}
    for i, name in enumerate([*(f"data_batch_{k}" for k in range(1, 6)), "test_batch"]):
        n = TEST if name == "test_batch" else PER_BATCH
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = [(i + j) % 10 for j in range(n)]
        made[name] = data
        made[name + "/labels"] = np.array(labels)
        members[name] = _pickled(
            {
                b"batch_label": f"{name} of the miniature".encode(),
                b"labels": labels,
                b"data": data,
                b"filenames": [f"{name}_{j}.png".encode() for j in range(n)],
            }
        )
    if test_batch is not None:
        members["test_batch"] = test_batch
    members["batches.meta"] = _pickled(
        {b"num_cases_per_batch": PER_BATCH, b"label_names": [n.encode() for n in NAMES]}
    )
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return made


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def tarball(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    path = tmp_path / "cifar-10-python.tar.gz"
    return path, make_tarball(path)


def _source(path: Path, **args) -> CIFAR10:
    return CIFAR10(root=path.parent, md5=_md5(path), download=False, **args)


def test_batches_in_order_give_nx3x32x32_float_images_and_int64_labels(tarball):
    path, made = tarball
    source = _source(path)
    assert source.input_shape == (3, 32, 32) and source.num_classes == 10
    assert source.num_examples("train") == 5 * PER_BATCH and source.num_examples("test") == TEST
    x, y = next(source.batches("train", 5 * PER_BATCH))
    assert x.shape == (40, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    batches = [f"data_batch_{k}" for k in range(1, 6)]
    assert y.tolist() == np.concatenate([made[b + "/labels"] for b in batches]).tolist()
    _, y_test = next(source.batches("test", TEST))
    assert y_test.tolist() == made["test_batch/labels"].tolist()


def test_each_channel_is_normalised_with_its_own_mean_and_std_as_torchvision_does(tarball):
    path, made = tarball
    x, _ = next(_source(path).batches("test", TEST))
    notebook = transforms.Compose([transforms.ToTensor(), transforms.Normalize(*NORMALIZE)])
    hwc = made["test_batch"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    expected = torch.stack([notebook(Image.fromarray(im, mode="RGB")) for im in hwc])
    assert torch.equal(x, expected)
    assert NORMALIZE == ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))


def test_normalize_none_flatten_and_one_pair_for_all_channels(tarball):
    path, made = tarball
    x, _ = next(_source(path, normalize="none", flatten=True).batches("test", TEST))
    assert x.shape == (TEST, 3072)
    assert torch.equal(x, torch.from_numpy(made["test_batch"]).float() / 255)
    x, _ = next(_source(path, normalize=[0.5, 0.25], flatten=True).batches("test", TEST))
    assert torch.allclose(x, (torch.from_numpy(made["test_batch"]).float() / 255 - 0.5) / 0.25)
    with pytest.raises(ConfigError, match=r"\[\[mean, mean, mean\], \[std, std, std\]\]"):
        _source(path, normalize=[[0.5, 0.5], [1, 1]])


def test_the_class_names_come_from_batches_meta_into_the_preprocessing_record(tarball):
    path, _ = tarball
    prep = _source(path).preprocessing()
    assert prep.classes == tuple(NAMES) and prep.channels == 3
    assert prep.normalize == NORMALIZE and prep.input_shape == (3, 32, 32)


def test_the_canonical_md5_is_checked_by_default_and_a_wrong_one_refused(tarball):
    path, _ = tarball
    with pytest.raises(DataError) as e:
        CIFAR10(root=path.parent, download=False)
    message = str(e.value)
    assert f"{path} has MD5 {_md5(path)}, expected {MD5}" in message
    assert f"Fix: delete {path} and run again" in message
    with pytest.raises(ConfigError, match="md5: 'abc'; expected 32 lowercase hex digits"):
        CIFAR10(root=path.parent, md5="abc", download=False)


def test_a_truncated_tarball_is_refused_by_its_md5_or_as_a_damaged_archive(tarball):
    path, _ = tarball
    full = _md5(path)
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(DataError, match=f"has MD5 {_md5(path)}, expected {full}"):
        CIFAR10(root=path.parent, md5=full, download=False)
    with pytest.raises(DataError, match=r"cannot be read as a \.tar\.gz .*truncated or damaged"):
        _source(path)


class _RunsCode:
    def __reduce__(self):
        return (os.getcwd, ())


def test_a_batch_whose_pickle_refers_to_other_code_is_refused_before_it_runs(tmp_path: Path):
    path = tmp_path / "cifar-10-python.tar.gz"
    make_tarball(path, test_batch=_pickled({b"data": _RunsCode(), b"labels": []}))
    with pytest.raises(DataError, match=r"test_batch refers to posix\.getcwd; expected numpy"):
        _source(path)


def test_a_batch_of_the_wrong_shape_names_the_member(tmp_path: Path):
    path = tmp_path / "cifar-10-python.tar.gz"
    bad = {b"data": np.zeros((2, 784), np.uint8), b"labels": [0, 1]}
    make_tarball(path, test_batch=_pickled(bad))
    with pytest.raises(DataError, match=r"test_batch: 'data' is uint8 \(2, 784\); expected uint8"):
        _source(path)


def test_a_missing_tarball_offline_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("COREBP_OFFLINE", "1")
    with pytest.raises(DataError, match=r"cifar-10-python.tar.gz is missing .*Fix: download https"):
        CIFAR10(root=tmp_path)


def test_the_source_passes_the_conformance_kit(tarball):
    path, _ = tarball
    args = {"root": str(path.parent), "md5": _md5(path), "download": False}
    assert_conforms(CIFAR10, [args, {**args, "flatten": True}])


def test_a_3_channel_lenet_trains_predicts_rgb_images_by_name_and_exports(
    tarball, tmp_path: Path, corebp_cli
):
    path, made = tarball
    overrides = [
        f"data.root={path.parent}",
        f"data.args.md5={_md5(path)}",
        "data.args.download=false",
        "train.epochs=1",
        "train.device=cpu",
        "output.plots=false",
        "output.progress=log",
    ]
    run, summary = run_recipe(load_recipe("cifar10-lenet5", overrides), tmp_path / "run")
    assert summary["status"] == "completed" and np.isfinite(summary["train_loss"])
    assert summary["autograd_check"]["passed"], "the 3-channel backward matches autograd"
    assert json.loads((run / "preprocessing.json").read_text())["classes"] == NAMES

    image = made["test_batch"][0].reshape(3, 32, 32).transpose(1, 2, 0)
    png = tmp_path / "rgb.png"
    Image.fromarray(image, mode="RGB").save(png)
    code, out, err = corebp_cli("predict", str(run), str(png), "--json")
    assert code == 0, err
    (result,) = json.loads(out)
    assert result["name"] == NAMES[result["label"]]
    code, out, err = corebp_cli("predict", str(run), str(png), "--top", "1")
    assert code == 0 and out.startswith(f"{png}: class {result['label']} ({result['name']}); ")

    out_file = tmp_path / "model.pt"
    code, _, err = corebp_cli("export", str(run), "--format", "torch", "-o", str(out_file))
    assert code == 0, err
    saved = torch.load(out_file, weights_only=True)
    module = torch.nn.Sequential(
        *(getattr(torch.nn, m["module"])(**m["args"]) for m in saved["architecture"])
    )
    module.load_state_dict(saved["state_dict"])
    x, _ = next(_source(path).batches("test", TEST))
    expected = open_run(run).model().forward(x)
    torch.testing.assert_close(module.eval()(x), expected, rtol=1e-5, atol=1e-6)
