"""A third-party layer that declares its torch.nn counterpart converts and exports like a
built-in one (the example plugin's Swish, declared as torch.nn.SiLU)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from corebp_example import Swish
from torch import nn

from corebp.errors import ConfigError
from corebp.inference.export import export_run
from corebp.inference.interop import from_torch, to_torch
from corebp.inference.trained import open_run
from corebp.layers import Linear
from corebp.layers.sequential import Sequential
from corebp.recipe import load_recipe
from corebp.training.run import run_recipe
from tests.recipes.conftest import write_synthetic_recipe


def test_swish_converts_to_silu_and_back_with_the_same_outputs():
    model = Sequential(Linear(2, 4, dtype=torch.float64), Swish()).eval()
    module = to_torch(model)
    assert type(module[1]) is nn.SiLU
    x = torch.randn(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    # The same function, rounded apart by a few float64 ulps (SiLU's kernel against x · σ(x)).
    torch.testing.assert_close(module(x).detach(), model.forward(x), rtol=1e-14, atol=1e-15)
    back = from_torch(module, layers=[Swish])
    assert type(back.layers[1]) is Swish
    assert torch.equal(back.forward(x), model.forward(x))


def test_a_subclass_that_declares_nothing_is_refused_by_name():
    class GatedSwish(Swish):  # may compute something else: it needs a declaration of its own
        pass

    with pytest.raises(ConfigError, match=r"GatedSwish.*has no torch\.nn counterpart"):
        to_torch(Sequential(Linear(2, 4), GatedSwish()))


def test_a_run_with_swish_exports_to_onnx_and_computes_what_corebp_does(tmp_path: Path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    overrides = ["model.1.type=swish", "checks.autograd=null", "output.plots=false"]
    recipe = write_synthetic_recipe(tmp_path / "spirals.yaml", *overrides)
    run = run_recipe(load_recipe(str(recipe)), tmp_path / "run")[0]
    out = export_run(open_run(run), "onnx", tmp_path / "model.onnx")
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    session = ort.InferenceSession(str(out))
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    expected = open_run(run).model().forward(x)
    assert (torch.from_numpy(got) - expected).abs().max() <= 1e-6
