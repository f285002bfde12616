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
from corebp.inference.formats import FORMATS
from corebp.inference.interop import architecture, to_torch
from corebp.inference.trained import PREPROCESSING, TrainedRun
from corebp.layers import Linear
from corebp.layers.sequential import Sequential
from corebp.util.atomic import save_torch, write_atomic, write_bytes_atomic
from corebp.util.optional import require


def export_run(run: TrainedRun, fmt: str, out: Path | None = None) -> Path:
    """Write the run's model in format `fmt` to `out` (default: RUN_DIR/model<suffix>)."""
    if fmt not in FORMATS:
        raise ConfigError(
            f"--format: {fmt!r} is not an export format; expected one of: {', '.join(FORMATS)}."
        )
    rule = run.loaded.recipe.learning_rule.type
    if run.own_inference():
        raise ConfigError(
            f"{run.path}: trained with learning_rule {rule!r}, whose predictions come from the "
            "rule's own inference, not from the model's forward, so the exported model alone "
            "would not give them; expected a run whose rule predicts with the model's "
            f"forward. Fix: use `corebp eval` and `corebp predict` on {run.path}."
        )
    suffix = FORMATS[fmt]
    out = _target(run.path / f"model{suffix}" if out is None else Path(out), suffix)
    model = run.model("cpu")
    module = to_torch(model).eval()
    arch = architecture(model)
    try:
        if fmt == "torch":
            state = {"architecture": arch, "state_dict": module.state_dict()}
            write_atomic(out, lambda p: save_torch(state, p))
        elif fmt == "safetensors":
            st = require("safetensors.torch", "safetensors", "export --format safetensors")
            meta = {"architecture": json.dumps(arch), "format": "pt"}
            write_bytes_atomic(out, st.save(module.state_dict(), metadata=meta))
        else:
            require("onnx", "onnx", "export --format onnx")
            require("onnxscript", "onnx", "export --format onnx")
            x = torch.zeros(2, *input_shape(run, model), dtype=run.dtype)
            write_atomic(out, lambda p: _onnx(module, x, p))
    except OSError as e:
        raise ConfigError(
            f"--output: cannot write {out} ({e.strerror or e}); nothing was written. Fix: "
            "give -o a path in a folder you can write to, on a disk with space."
        ) from None
    return out


def _target(out: Path, suffix: str) -> Path:
    """`out`, if it is a new path or a regular file to replace; anything else is refused
    before anything is built (a directory, a device such as /dev/null, a pipe or a socket
    would be replaced by a file, and a path under a file cannot be made)."""
    try:
        is_dir, exists, is_file = out.is_dir(), out.exists(), out.is_file()
        above = next((p for p in out.parents if p.exists() or p.is_symlink()), Path("."))
    except OSError as e:  # a name too long, a loop of links
        raise ConfigError(
            f"--output: cannot write {out} ({e.strerror or e}); nothing was written. Fix: "
            "give -o another path."
        ) from None
    if is_dir:
        raise ConfigError(
            f"--output: {out} is a directory; expected a file name. Fix: give a file in it, "
            f"such as {out / ('model' + suffix)}."
        )
    if exists and not is_file:
        raise ConfigError(
            f"--output: {out} is not a regular file (a device, pipe or socket), which export "
            "would replace; expected a new path or a file. Fix: choose another -o."
        )
    if not above.is_dir():
        raise ConfigError(
            f"--output: {out} is under {above}, which is a file, not a folder; expected a "
            "path in a folder. Fix: choose another -o."
        )
    return out


def input_shape(run: TrainedRun, model: Sequential) -> tuple[int, ...]:
    """One input's shape for `model` (the run's, on the CPU): from preprocessing.json, else
    the first layer's in_features."""
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
