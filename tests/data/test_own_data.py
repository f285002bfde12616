"""Sources for your own data (tensors, .npz, .csv, synthetic) and their input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from corebp_data.files import CsvSource, NpzSource
from corebp_data.synthetic import SyntheticSource
from corebp_data.tensors import TensorSource
from PIL import Image
from torchvision import transforms

from corebp.errors import ConfigError, DataError, ShapeError
from corebp.inference.preprocess import to_features
from corebp.plugins import load_registry


def test_plugin_registers_every_source():
    names = load_registry().names("data_sources")
    for name in ("mnist", "fashion_mnist", "kmnist", "tensors", "npz", "csv", "synthetic"):
        assert name in names


def test_to_features_equals_torchvision_totensor_normalize_bit_for_bit():
    images = np.random.default_rng(0).integers(0, 256, (64, 28, 28), dtype=np.uint8)
    notebook = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
    )
    expected = torch.stack([notebook(Image.fromarray(im, mode="L")) for im in images])
    ours = to_features(torch.from_numpy(images), torch.float32, normalize=(0.1307, 0.3081))
    assert torch.equal(ours.reshape(64, 1, 28, 28), expected)


def test_tensor_source_takes_numpy_and_infers_classes():
    source = TensorSource(train=(np.ones((6, 2)), np.array([0, 1, 2, 0, 1, 2])))
    assert source.num_classes == 3 and source.input_shape == (2,)


@pytest.mark.parametrize(
    ("labels", "num_classes", "message"),
    [
        ([0, 1, 5], 3, r"labels range over \[0, 5\].*expected class indices in \[0, 2\]"),
        ([0, -1, 1], None, r"labels range over \[-1, 1\]"),
        ([0.0, 1.5, 1.0], None, r"labels include non-integer values \(e.g. 1.5\)"),
    ],
)
def test_tensor_source_refuses_labels_outside_classes(labels, num_classes, message):
    with pytest.raises(DataError, match="tensors source argument `train`: " + message):
        TensorSource(train=(np.zeros((3, 2)), np.array(labels)), num_classes=num_classes)


def test_tensor_source_checks_shapes_and_finiteness():
    with pytest.raises(ShapeError, match=r"labels have shape \(2,\); expected \(3,\)"):
        TensorSource(train=(np.zeros((3, 2)), np.array([0, 1])))
    with pytest.raises(ShapeError, match="at least 2 dimensions"):
        TensorSource(train=(np.zeros(3), np.array([0, 1, 0])))
    with pytest.raises(DataError, match="NaN or infinity"):
        TensorSource(train=(np.array([[np.nan], [0.0]]), np.array([0, 1])))


def test_npz_source_reads_keras_layout_and_scales_bytes(tmp_path):
    path = tmp_path / "d.npz"
    x = np.arange(4 * 2 * 2, dtype=np.uint8).reshape(4, 2, 2)
    np.savez(path, x_train=x, y_train=np.array([0, 1, 0, 1]), x_test=x[:2], y_test=np.array([1, 0]))
    source = NpzSource(path=path)
    assert source.splits() == ["train", "test"] and source.input_shape == (2, 2)
    xb, _ = next(source.batches("train", 4))
    assert torch.equal(xb, torch.from_numpy(x).float().div(255))
    assert str(path) in source.provenance()


def test_npz_source_errors_name_file_and_keys(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, images=np.zeros((2, 2)))
    with pytest.raises(
        DataError, match=r"d\.npz: has arrays \['images'\], lacks \['x_train', 'y_train'\]"
    ):
        NpzSource(path=path)
    np.savez(path, x_train=np.zeros((2, 2)), y_train=np.array([0, 9]))
    with pytest.raises(DataError, match=r"d\.npz \(x_train, y_train\): labels range over \[0, 9\]"):
        NpzSource(path=path, num_classes=3)
    with pytest.raises(DataError, match="does not exist"):
        NpzSource(path=tmp_path / "nope.npz")


def test_csv_source_with_header_label_name_and_divide_by(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("a,label,b\n255,1,0\n0,0,51\n")
    source = CsvSource(train="train.csv", root=tmp_path, label_column="label", divide_by=255)
    xb, yb = next(source.batches("train", 2))
    assert torch.equal(yb, torch.tensor([1, 0]))
    assert torch.allclose(xb, torch.tensor([[1.0, 0.0], [0.0, 0.2]]))


def test_csv_source_refuses_bad_labels_and_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("3,0.5\n7,0.1\n")
    with pytest.raises(DataError, match=r"t\.csv: labels range over \[3, 7\].*num_classes=5"):
        CsvSource(train=path, num_classes=5)
    with pytest.raises(ConfigError, match="label_column: 'y' is not a column"):
        CsvSource(train=path, label_column="y")
    path.write_text("1,2\n3,x\n")
    with pytest.raises(DataError, match=r"t\.csv: .*expected numbers separated by commas"):
        CsvSource(train=path)
    path.write_text("label,pixel\n")
    with pytest.raises(DataError, match=r"t\.csv: no data rows"):
        CsvSource(train=path)


@pytest.mark.parametrize("kind", ["spirals", "blobs"])
def test_synthetic_data_depend_on_data_seed_only(kind):
    a = SyntheticSource(kind=kind, seed=1, train_size=90, test_size=30)
    b = SyntheticSource(kind=kind, seed=2, train_size=90, test_size=30)
    assert torch.equal(next(a.batches("train", 90))[0], next(b.batches("train", 90))[0])
    c = SyntheticSource(kind=kind, data_seed=1, train_size=90, test_size=30)
    assert not torch.equal(next(a.batches("train", 90))[0], next(c.batches("train", 90))[0])
    assert a.num_classes == 3 and a.input_shape == (2,) and a.num_examples("test") == 30


def test_synthetic_refuses_unknown_kind():
    with pytest.raises(ConfigError, match="kind: 'moons'"):
        SyntheticSource(kind="moons")
