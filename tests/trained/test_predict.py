"""`corebp predict`: image files preprocessed exactly as the run's data was, or a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from corebp_data import MNIST
from corebp_data.root import resolve_root
from PIL import Image

from corebp.errors import DataError
from corebp.inference.preprocess import ImagePreprocessing, to_features
from corebp.inference.trained import open_run

MNIST_PREP = ImagePreprocessing(
    height=28, width=28, normalize=(0.1307, 0.3081), input_shape=(1, 28, 28)
)


def _png(path: Path, pixels: np.ndarray, mode: str = "L") -> Path:
    Image.fromarray(pixels, mode=mode).save(path)
    return path


@pytest.mark.mnist
def test_predict_on_20_mnist_pngs_gives_the_models_classes_on_the_same_tensors(
    mnist_run: Path, tmp_path: Path, corebp_cli
):
    raw = torchvision.datasets.MNIST(str(resolve_root(None)), train=False, download=False)
    files = [_png(tmp_path / f"{i}.png", raw.data[i].numpy()) for i in range(20)]
    code, out, err = corebp_cli("predict", str(mnist_run), *map(str, files), "--json")
    assert code == 0, err
    predicted = json.loads(out)

    run = open_run(mnist_run)
    source = MNIST(**run.loaded.recipe.data.args)
    x, _ = next(iter(source.batches("test", 20)))
    outputs = run.model().forward(x)
    assert [p["label"] for p in predicted] == outputs.argmax(1).tolist()
    # Not only the same classes: the very same inputs, so bit-identical outputs.
    assert torch.equal(torch.tensor([p["outputs"] for p in predicted]), outputs)
    assert all(abs(sum(p["probabilities"]) - 1) < 1e-6 for p in predicted)
    assert [p["file"] for p in predicted] == [str(f) for f in files]


@pytest.mark.mnist
def test_predict_prints_a_class_per_image(mnist_run: Path, tmp_path: Path, corebp_cli):
    raw = torchvision.datasets.MNIST(str(resolve_root(None)), train=False, download=False)
    png = _png(tmp_path / "seven.png", raw.data[0].numpy())
    code, out, _ = corebp_cli("predict", str(mnist_run), str(png), "--top", "2")
    assert code == 0 and out.startswith(f"{png}: class ") and out.count(": 0.") == 2


@pytest.mark.mnist
@pytest.mark.parametrize("kind", ["truncated png", "text file", "wrong size"])
def test_a_bad_image_is_one_line_naming_the_file_exit_2(
    mnist_run: Path, tmp_path: Path, corebp_cli, kind: str
):
    good = _png(tmp_path / "good.png", np.zeros((28, 28), np.uint8))
    if kind == "truncated png":
        bad = tmp_path / "cut.png"
        bad.write_bytes(good.read_bytes()[:-20])  # the pixels decode; the file's end is gone
        expected = "cannot be read as an image (Truncated File Read)"
    elif kind == "text file":
        bad = tmp_path / "notes.png"
        bad.write_text("not an image\n")
        expected = "cannot be read as an image"
    else:
        bad = _png(tmp_path / "big.png", np.zeros((32, 32), np.uint8))
        expected = "32×32 pixels; expected 28×28"
    code, out, err = corebp_cli("predict", str(mnist_run), str(good), str(bad))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"corebp: error: {bad}: ") and expected in err


def test_read_converts_colour_to_grey_and_apply_is_to_features(tmp_path: Path):
    grey = np.random.default_rng(1).integers(0, 256, (28, 28), np.uint8)
    rgb = _png(tmp_path / "rgb.png", np.stack([grey] * 3, axis=-1), mode="RGB")
    pixels = MNIST_PREP.read(rgb)
    assert pixels.shape == (1, 28, 28) and torch.equal(pixels[0], torch.from_numpy(grey))
    x = MNIST_PREP.apply(pixels[None], torch.float32)
    assert x.shape == (1, 1, 28, 28)
    expected = to_features(torch.from_numpy(grey), torch.float32, normalize=(0.1307, 0.3081))
    assert torch.equal(x.reshape(28, 28), expected)


def test_a_run_without_preprocessing_json_says_so(synthetic_run: Path):
    with pytest.raises(DataError, match=r"has no preprocessing\.json"):
        open_run(synthetic_run).preprocessing()
