"""`corebp predict`: classify image files with a finished run's model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def command(
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by `corebp run`.")],
    images: Annotated[list[Path], typer.Argument(help="PNG or JPEG files.")],
    top: Annotated[
        int, typer.Option(help="Classes shown per image (with --json too), largest first.", min=1)
    ] = 3,
    resize: Annotated[
        bool,
        typer.Option("--resize", help="Resize an image of another size to the run's (e.g. 28×28)."),
    ] = False,
    invert: Annotated[
        bool,
        typer.Option(
            "--invert",
            help="Invert the grey levels: dark strokes on white read as MNIST's white on black.",
        ),
    ] = False,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "cpu",
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print label, kind, top classes and all outputs as JSON."),
    ] = False,
) -> None:
    """Print the class of each image and its top scores, preprocessed as the run's data was.

    Classes are shown by name where the run's data source names them (Fashion-MNIST:
    "class 9 (Ankle boot)"), else by index.

    The scores are probabilities only where the model makes them (a final softmax layer, or
    a cross-entropy loss: softmax of the logits); otherwise (e.g. sigmoid outputs trained
    with MSE) they are the raw outputs, and say so. The preprocessing (size, scale,
    normalisation) is read from the run's preprocessing.json. An image of another size
    (without --resize), or a file that is not a whole image, is reported naming it after the
    others are classified, with exit code 2.

    Examples:

      corebp predict runs/mnist-784-100-10-tuned-20260101-120000 digit.png

      corebp predict runs/my-run *.png --top 1

      corebp predict runs/my-run photo.jpg --resize --invert

      corebp predict runs/my-run a.png b.jpg --json
    """
    from corebp.inference.trained import open_run, predict

    if device not in ("auto", "cpu", "cuda"):
        raise typer.BadParameter(f"{device!r}; expected auto, cpu or cuda.", param_hint="--device")
    found = predict(open_run(run_dir), images, device, resize=resize, invert=invert)
    if as_json:
        typer.echo(json.dumps([r.as_json(top) for r in found.results], indent=2))
    else:
        for r in found.results:
            what = "probabilities" if r.kind == "probabilities" else "outputs (not probabilities)"
            shown = ", ".join(f"{r.name(c)}: {v:.4g}" for c, v in r.top(top))
            named = "" if r.classes is None else f" ({r.name(r.label)})"
            typer.echo(f"{r.file}: class {r.label}{named}; {what} {shown}")
    for problem in found.problems:
        typer.echo(f"corebp: error: {problem}", err=True)
    if found.problems:
        raise typer.Exit(2)
