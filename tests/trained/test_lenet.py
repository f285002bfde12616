"""A LeNet-5 run (convolutions, BatchNorm buffers, MNIST padded to 32×32) read back: its
preprocessing.json holds the padding, predict applies it, ONNX computes what corebp does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchvision
from corebp_data import MNIST
from corebp_data.root import resolve_root
from PIL import Image

from corebp.inference.export import export_run
from corebp.inference.trained import open_run

pytestmark = pytest.mark.mnist


def test_preprocessing_json_records_the_padding_the_source_applied(lenet_run: Path):
    run = open_run(lenet_run)
    recorded = run.preprocessing()
    assert (recorded.pad, recorded.resize, recorded.input_shape) == (2, None, (1, 32, 32))
    assert recorded == MNIST(**run.loaded.recipe.data.args).preprocessing()


def test_predict_pads_as_the_run_did_bit_for_bit(lenet_run: Path, tmp_path: Path, corebp_cli):
    raw = torchvision.datasets.MNIST(str(resolve_root(None)), train=False, download=False)
    files = []
    for i in range(20):
        files.append(tmp_path / f"{i}.png")
        Image.fromarray(raw.data[i].numpy(), mode="L").save(files[-1])
    code, out, err = corebp_cli("predict", str(lenet_run), *map(str, files), "--json")
    assert code == 0, err
    run = open_run(lenet_run)
    x, _ = next(iter(MNIST(**run.loaded.recipe.data.args).batches("test", 20)))
    assert x.shape == (20, 1, 32, 32)
    outputs = run.model().forward(x)
    assert torch.equal(torch.tensor([p["outputs"] for p in json.loads(out)]), outputs)


def test_onnx_export_of_lenet_runs_in_onnxruntime_like_corebp(lenet_run: Path, tmp_path: Path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    pytest.importorskip("onnxscript", reason="onnxscript (corebp[onnx]) is not installed")
    run = open_run(lenet_run)
    out = export_run(run, "onnx", tmp_path / "lenet.onnx")
    x = torch.randn(7, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    (got,) = ort.InferenceSession(str(out)).run(None, {"input": x.numpy()})
    assert got.shape == (7, 10)
    assert (torch.from_numpy(got) - run.model().forward(x)).abs().max() <= 1e-5
