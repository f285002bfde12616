"""`corebp export`: torch, safetensors and ONNX files that other tools load and run alike."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from corebp.errors import ConfigError
from corebp.inference.export import export_run
from corebp.inference.trained import open_run


def _inputs(n: int = 64) -> torch.Tensor:
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(0))


def _build(architecture: list[dict]) -> nn.Sequential:
    """The small builder docs/using-a-trained-model.md shows: no corebp needed."""
    return nn.Sequential(*(getattr(nn, m["module"])(**m["args"]) for m in architecture))


def test_torch_export_loads_safely_and_computes_what_corebp_does(
    synthetic_run: Path, tmp_path: Path, corebp_cli
):
    out = tmp_path / "model.pt"
    code, printed, err = corebp_cli(
        "export", str(synthetic_run), "--format", "torch", "-o", str(out)
    )
    assert code == 0, err
    assert printed.strip() == f"wrote {out}"
    saved = torch.load(out, weights_only=True)
    module = _build(saved["architecture"])
    module.load_state_dict(saved["state_dict"])
    x = _inputs()
    expected = open_run(synthetic_run).model().forward(x)
    # float32: the same sums, possibly in another order (corebp's Linear picks BLAS's fast one).
    assert (module.eval()(x).detach() - expected).abs().max() <= 1e-6


def test_safetensors_export_holds_the_state_dict_and_architecture(
    synthetic_run: Path, tmp_path: Path
):
    safetensors = pytest.importorskip("safetensors", reason="safetensors is not installed")
    from safetensors.torch import load_file

    out = export_run(open_run(synthetic_run), "safetensors", tmp_path / "w.safetensors")
    with safetensors.safe_open(str(out), "pt") as f:
        architecture = json.loads(f.metadata()["architecture"])
    module = _build(architecture)
    module.load_state_dict(load_file(str(out)))
    x = _inputs()
    expected = open_run(synthetic_run).model().forward(x)
    assert (module(x).detach() - expected).abs().max() <= 1e-6


def test_onnx_export_runs_in_onnxruntime_like_corebp(synthetic_run: Path, tmp_path: Path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    pytest.importorskip("onnxscript", reason="onnxscript (corebp[onnx]) is not installed")
    out = export_run(open_run(synthetic_run), "onnx")
    assert out == synthetic_run / "model.onnx"
    session = ort.InferenceSession(str(out))
    x = _inputs(37)  # a batch size other than the exported example's
    (got,) = session.run(None, {"input": x.numpy()})
    expected = open_run(synthetic_run).model().forward(x)
    assert got.dtype.name == "float32" and got.shape == (37, 3)
    assert abs(torch.from_numpy(got) - expected).max() <= 1e-5


def test_a_missing_optional_dependency_names_the_extra(
    synthetic_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # makes `import onnxscript` fail
    with pytest.raises(ConfigError, match=r"pip install 'corebp\[onnx\]'"):
        export_run(open_run(synthetic_run), "onnx", tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


def test_an_unknown_format_is_refused(synthetic_run: Path, corebp_cli):
    code, _, err = corebp_cli("export", str(synthetic_run), "--format", "tflite")
    assert code == 2 and "'tflite' is not an export format; expected one of: torch, onnx" in err
