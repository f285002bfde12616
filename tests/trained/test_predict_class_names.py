"""`corebp predict` names the classes of a run whose data source names them (Fashion-MNIST)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from corebp_data.mnist import FashionMNIST
from corebp_data.root import resolve_root
from PIL import Image
from torchvision import datasets

from corebp.inference.trained import open_run
from corebp.recipe import load_recipe
from corebp.training.run import run_recipe
from tests.data.fashion import fetch_fashion_mnist

ANKLE_BOOT = 9


def test_predict_prints_the_fashion_mnist_class_name(tmp_path: Path, corebp_cli):
    root = fetch_fashion_mnist(resolve_root()).raw_dir.parents[1]
    overrides = [
        f"data.root={root}",
        "data.validation_split=0.9",  # one epoch on 10 % of the training images
        "train.epochs=1",
        "train.device=cpu",
        "checks.autograd=null",
        "output.plots=false",
        "output.progress=log",
    ]
    run = run_recipe(load_recipe("fashion-lenet5-bp", overrides), tmp_path / "run")[0]
    x, _ = next(FashionMNIST(root=root, download=False, flatten=False, pad=2).batches("test", 100))
    picked = open_run(run).model().forward(x).argmax(1)
    assert bool((picked == ANKLE_BOOT).any()), "a model that never says ankle boot"
    i = int((picked == ANKLE_BOOT).nonzero()[0])
    raw = datasets.FashionMNIST(str(root), train=False, download=False).data[i].numpy()
    png = tmp_path / "boot.png"
    Image.fromarray(raw, mode="L").save(png)

    code, out, err = corebp_cli("predict", str(run), str(png), "--top", "2")
    assert code == 0, err
    assert out.startswith(f"{png}: class 9 (Ankle boot); probabilities Ankle boot: ")
    code, out, err = corebp_cli("predict", str(run), str(png), "--json")
    (result,) = json.loads(out)
    assert result["name"] == "Ankle boot" and result["top"][0]["name"] == "Ankle boot"
    assert torch.tensor(result["probabilities"]).argmax() == ANKLE_BOOT
