"""`corebp export`: write a finished run's model as a torch state dict, ONNX or safetensors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from corebp.inference.formats import FORMATS


def command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `corebp run`.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help=", ".join(FORMATS) + ".")] = "torch",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write; default: RUN_DIR/model.<suffix>."),
    ] = None,
) -> None:
    """Export a run's model in torch.nn's layout (weights as in `interop.to_torch`).

    torch: a .pt with {"architecture", "state_dict"} (loads with weights_only=True).

    onnx: an ONNX graph with a dynamic batch dimension (needs corebp[onnx]).

    safetensors: the state dict, the architecture in its metadata (needs corebp[safetensors]).

    Examples:

      corebp export runs/my-run --format torch

      corebp export runs/my-run --format onnx -o model.onnx

      corebp export runs/my-run --format safetensors
    """
    from corebp.inference.export import export_run
    from corebp.inference.trained import open_run

    path = export_run(open_run(run_dir), fmt, output)
    typer.echo(f"wrote {path}")
