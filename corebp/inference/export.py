"""Writing a trained model for other tools: a torch state dict, ONNX, or safetensors.

Each format holds torch.nn's layout (`corebp.inference.interop.to_torch`), so the weights load into
the torch.nn model that `architecture` describes:

- torch: `torch.save({"architecture": [...], "state_dict": {...}})`, readable with
  `torch.load(..., weights_only=True)`;
- safetensors: the state dict, with the architecture as JSON in the metadata;
- onnx: `torch.onnx.export` of the torch.nn model (the torch.export-based exporter, which
  needs onnx and onnxscript), with a dynamic batch dimension named "batch".

Files are written whole (temporary file, then rename).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch

from corebp.errors import ConfigError
from corebp.inference.interop import architecture, to_torch
from corebp.inference.trained import PREPROCESSING, TrainedRun
from corebp.layers import Linear
from corebp.util.atomic import write_atomic, write_bytes_atomic
from corebp.util.optional import require

#: Each format with the file suffix it gets by default.
FORMATS = {"torch": ".pt", "onnx": ".onnx", "safetensors": ".safetensors"}


def export_run(run: TrainedRun, fmt: str, out: Path | None = None) -> Path:
    """Write the run's model in format `fmt` to `out` (default: RUN_DIR/model<suffix>)."""
    if fmt not in FORMATS:
        raise ConfigError(
            f"--format: {fmt!r} is not an export format; expected one of: {', '.join(FORMATS)}."
        )
    out = run.path / f"model{FORMATS[fmt]}" if out is None else Path(out)
    model = run.model("cpu")
    module = to_torch(model).eval()
    arch = architecture(model)
    if fmt == "torch":
        state = {"architecture": arch, "state_dict": module.state_dict()}
        write_atomic(out, lambda p: torch.save(state, p))
    elif fmt == "safetensors":
        st = require("safetensors.torch", "safetensors", "export --format safetensors")
        meta = {"architecture": json.dumps(arch), "format": "pt"}
        write_bytes_atomic(out, st.save(module.state_dict(), metadata=meta))
    else:
        require("onnx", "onnx", "export --format onnx")
        require("onnxscript", "onnx", "export --format onnx")
        x = torch.zeros(2, *input_shape(run), dtype=run.dtype)
        write_atomic(out, lambda p: _onnx(module, x, p))
    return out


def input_shape(run: TrainedRun) -> tuple[int, ...]:
    """One input's shape: from preprocessing.json, else the first layer's in_features."""
    model = run.model("cpu")
    if (run.path / PREPROCESSING).is_file():
        return run.fitted_preprocessing(model, torch.device("cpu")).input_shape
    if model.layers and isinstance(model.layers[0], Linear):
        return (model.layers[0].in_features,)
    raise ConfigError(
        f"{run.path}: cannot tell the model's input shape (no {PREPROCESSING}, and the first "
        "layer is not Linear); expected a run on image data or a model starting with Linear."
    )


def _onnx(module: torch.nn.Module, x: torch.Tensor, path: Path) -> None:
    batch: Any = torch.export.Dim("batch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on its own internals
        torch.onnx.export(
            module,
            (x,),
            str(path),
            input_names=["input"],
            output_names=["output"],
            dynamic_shapes=({0: batch},),
            external_data=False,
            verbose=False,
        )
