"""Running a recipe end to end: build and check everything, then train into a run directory."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from corebp.plots import plot_curves, plot_weight_grid
from corebp.plugins import Registry, registry
from corebp.recipe.load import LoadedRecipe
from corebp.rundir import RunDir, default_run_dir, provenance
from corebp.trainer import Trainer


def run_recipe(
    loaded: LoadedRecipe,
    output_dir: Path | None = None,
    progress: str | None = None,
    reg: Registry | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Train `loaded` and write its run directory; returns (directory, summary).

    Everything that can be wrong with the recipe, its components or its data fails before
    the directory is created.
    """
    reg = registry() if reg is None else reg
    trainer = Trainer(loaded, reg, progress=progress)
    out = loaded.recipe.output
    path = output_dir or (Path(out.dir) if out.dir else default_run_dir(loaded.name))
    run = RunDir(path)
    header = f"# {loaded.name}, resolved (overrides: {' '.join(loaded.overrides) or 'none'})\n"
    run.yaml("recipe.yaml", loaded.resolved(), header)
    run.json(
        "provenance.json",
        provenance(
            recipe=loaded.name,
            path=loaded.path,
            overrides=loaded.overrides,
            seed=loaded.recipe.train.seed,
            device=trainer.device,
            dtype=loaded.recipe.train.dtype,
            plugins=reg.plugins,
            data=trainer.data.provenance(),
        ),
    )
    preprocessing = trainer.data.preprocessing()
    if preprocessing is not None:
        run.json("preprocessing.json", preprocessing.model_dump(mode="json"))
    for logger in trainer.loggers:
        logger.open(run.path)
    try:
        summary = trainer.fit(on_epoch_end=partial(_epoch_end, run, trainer))
    finally:
        for logger in trainer.loggers:
            logger.close()
    if out.checkpoint:
        run.checkpoint("checkpoint.pt", trainer.state())
    if out.plots:
        _draw(run, trainer)
    run.json("summary.json", summary)
    return run.path, summary


def _epoch_end(run: RunDir, trainer: Trainer, row: dict[str, Any]) -> None:
    """metrics.jsonl (the built-in sink) gets the whole history again; each logger the row."""
    run.jsonl("metrics.jsonl", trainer.history)
    for logger in trainer.loggers:
        logger.epoch(row["epoch"], row)


def _draw(run: RunDir, trainer: Trainer) -> None:
    title = trainer.name
    for metric in ("loss", "accuracy"):
        if metric in trainer.metric_names:
            run.picture(
                f"{metric}.png",
                partial(plot_curves, trainer.history, metric, title=f"{title}: {metric}"),
            )
    first = next((layer for layer in trainer.model.layers if "W" in layer.params), None)
    if first is not None:
        shape = trainer.data.input_shape
        image = tuple(shape[-2:]) if len(shape) >= 2 else None
        run.picture(
            "weights.png",
            lambda p: plot_weight_grid(
                first.params["W"], p, f"{title}: first layer weights", image
            ),
        )
