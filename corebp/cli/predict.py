"""`corebp predict`: classify image files with a finished run's model."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from corebp.inference.trained import open_run, predict


def command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `corebp run`.")],
    images: Annotated[list[Path], typer.Argument(help="PNG or JPEG files.")],
    top: Annotated[int, typer.Option(help="Classes shown per image.", min=1)] = 3,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "cpu",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print class, probabilities and outputs as JSON.")
    ] = False,
) -> None:
    """Print the class and probabilities of each image, preprocessed as the run's data was.

    The preprocessing (size, scale, normalisation) is read from the run's preprocessing.json;
    an image of another size, or a file that is not a whole image, is an error naming it.

    Examples:

      corebp predict runs/mnist-784-100-10-tuned-20260101-120000 digit.png

      corebp predict runs/my-run *.png --top 1

      corebp predict runs/my-run a.png b.jpg --json
    """
    if device not in ("auto", "cpu", "cuda"):
        raise typer.BadParameter(f"{device!r}; expected auto, cpu or cuda.", param_hint="--device")
    results = predict(open_run(run_dir), images, device)
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in results], indent=2))
        return
    for r in results:
        ranked = sorted(range(len(r.probabilities)), key=lambda c: -r.probabilities[c])[:top]
        shown = ", ".join(f"{c}: {r.probabilities[c]:.4f}" for c in ranked)
        typer.echo(f"{r.file}: class {r.label} ({shown})")
