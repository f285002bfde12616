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
    assert [p["file"] for p in predicted] == [str(f) for f in files]


@pytest.mark.mnist
def test_sigmoid_outputs_trained_with_mse_are_shown_as_outputs_not_probabilities(
    mnist_run: Path, tmp_path: Path, corebp_cli
):
    noise = np.random.default_rng(0).integers(0, 256, (28, 28), np.uint8)
    png = _png(tmp_path / "noise.png", noise)
    code, out, err = corebp_cli("predict", str(mnist_run), str(png), "--json", "--top", "2")
    assert code == 0, err
    (result,) = json.loads(out)
    assert result["kind"] == "outputs" and result["probabilities"] is None
    ranked = sorted(range(10), key=lambda c: -result["outputs"][c])[:2]
    assert result["top"] == [{"class": c, "output": result["outputs"][c]} for c in ranked]
    code, out, _ = corebp_cli("predict", str(mnist_run), str(png))
    assert out.startswith(f"{png}: class {ranked[0]}; outputs (not probabilities) {ranked[0]}: ")
    assert "%" not in out


@pytest.mark.mnist
def test_a_cross_entropy_run_shows_the_softmax_of_its_logits_as_probabilities(
    lenet_run: Path, tmp_path: Path, corebp_cli
):
    raw = torchvision.datasets.MNIST(str(resolve_root(None)), train=False, download=False)
    png = _png(tmp_path / "seven.png", raw.data[0].numpy())
    code, out, err = corebp_cli("predict", str(lenet_run), str(png), "--json", "--top", "1")
    assert code == 0, err
    (result,) = json.loads(out)
    probabilities = torch.softmax(torch.tensor(result["outputs"]), 0)
    assert result["kind"] == "probabilities"
    assert torch.allclose(torch.tensor(result["probabilities"]), probabilities)
    assert result["top"] == [{"class": result["label"], "probability": max(probabilities).item()}]
    code, out, _ = corebp_cli("predict", str(lenet_run), str(png), "--top", "2")
    assert out.startswith(f"{png}: class {result['label']}; probabilities {result['label']}: 0.")


@pytest.mark.mnist
def test_resize_and_invert_read_a_larger_black_on_white_digit_as_the_original(
    mnist_run: Path, tmp_path: Path, corebp_cli
):
    raw = torchvision.datasets.MNIST(str(resolve_root(None)), train=False, download=False)
    digits = [raw.data[i].numpy() for i in range(5)]
    plain = [_png(tmp_path / f"{i}.png", d) for i, d in enumerate(digits)]
    # Twice as large, dark on white: what a drawing program saves.
    drawn = [
        _png(tmp_path / f"drawn{i}.png", 255 - np.kron(d, np.ones((2, 2), np.uint8)))
        for i, d in enumerate(digits)
    ]
    code, out, err = corebp_cli("predict", str(mnist_run), *map(str, drawn), "--json")
    assert code == 2 and "56×56 pixels; expected 28×28" in err and "--resize" in err
    flags = ("--resize", "--invert", "--json")
    code, out, err = corebp_cli("predict", str(mnist_run), *map(str, drawn), *flags)
    assert code == 0, err
    code, expected, _ = corebp_cli("predict", str(mnist_run), *map(str, plain), "--json")
    outputs = [r["outputs"] for r in json.loads(out)]
    assert outputs == [r["outputs"] for r in json.loads(expected)]  # a box filter undoes it


@pytest.mark.mnist
def test_top_applies_with_json(mnist_run: Path, tmp_path: Path, corebp_cli):
    png = _png(tmp_path / "zero.png", np.zeros((28, 28), np.uint8))
    for top in (1, 4):
        code, out, _ = corebp_cli("predict", str(mnist_run), str(png), "--json", "--top", str(top))
        assert code == 0 and len(json.loads(out)[0]["top"]) == top


@pytest.mark.mnist
def test_predict_prints_a_class_per_image(mnist_run: Path, tmp_path: Path, corebp_cli):
    raw = torchvision.datasets.MNIST(str(resolve_root(None)), train=False, download=False)
    png = _png(tmp_path / "seven.png", raw.data[0].numpy())
    code, out, _ = corebp_cli("predict", str(mnist_run), str(png), "--top", "2")
    assert code == 0 and out.startswith(f"{png}: class ") and out.count(", ") == 1


@pytest.mark.mnist
@pytest.mark.parametrize("kind", ["truncated png", "text file", "wrong size"])
def test_a_bad_image_is_one_line_naming_the_file_after_the_good_ones_exit_2(
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
    code, out, err = corebp_cli("predict", str(mnist_run), str(bad), str(good))
    assert code == 2 and out.startswith(f"{good}: class ") and out.count("\n") == 1
    assert err.count("\n") == 1 and err.startswith(f"corebp: error: {bad}: ") and expected in err


@pytest.mark.mnist
def test_several_bad_files_are_each_named_after_every_good_one_is_classified(
    mnist_run: Path, tmp_path: Path, corebp_cli
):
    good = [_png(tmp_path / f"good{i}.png", np.full((28, 28), i, np.uint8)) for i in range(3)]
    missing, text = tmp_path / "missing.png", tmp_path / "notes.png"
    text.write_text("not an image\n")
    files = [good[0], missing, good[1], text, good[2]]
    code, out, err = corebp_cli("predict", str(mnist_run), *map(str, files), "--json")
    assert code == 2
    assert [r["file"] for r in json.loads(out)] == [str(g) for g in good]
    lines = err.splitlines()
    assert [line.split(": ")[2] for line in lines] == [str(missing), str(text)]
    assert all(line.startswith("corebp: error: ") for line in lines)


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
