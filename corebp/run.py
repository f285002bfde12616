"""Running a recipe end to end: build and check everything, then train into a run directory."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from corebp.plots import plot_curves, plot_weight_grid
from corebp.plugins import Registry, registry
from corebp.recipe.load import LoadedRecipe
from corebp.rundir import RunDir, default_run_dir, provenance
from corebp.trainer import Trainer

if TYPE_CHECKING:
    from corebp.distributed import DataParallel


def run_recipe(
    loaded: LoadedRecipe,
    output_dir: Path | None = None,
    progress: str | None = None,
    reg: Registry | None = None,
    parallel: DataParallel | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Train `loaded` and write its run directory; returns (directory, summary).

    Everything that can be wrong with the recipe, its components or its data fails before
    the directory is created. summary.json says `"status": "completed"`; when training
    fails (or is interrupted) after that, it is still written, with `"status": "failed"`
    (or `"interrupted"`), the `error` and the epochs completed, and the error is re-raised.
    In a data-parallel run (`parallel`) only rank 0 writes; every rank returns its path.
    """
    reg = registry() if reg is None else reg
    trainer = Trainer(loaded, reg, progress=progress, parallel=parallel)
    out = loaded.recipe.output
    path = output_dir or (Path(out.dir) if out.dir else default_run_dir(loaded.name))
    run = RunDir(path) if parallel is None else parallel.run_dir(path)
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
            processes=parallel.describe() if parallel is not None else {"world_size": 1},
        ),
    )
    started = time.perf_counter()
    try:
        summary = trainer.fit(on_epoch_end=lambda _: run.jsonl("metrics.jsonl", trainer.history))
    except (Exception, KeyboardInterrupt) as e:
        status = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
        failed = {"status": status, "error": f"{type(e).__name__}: {e}"}
        run.json("summary.json", failed | trainer.summary(time.perf_counter() - started))
        raise
    summary = {"status": "completed"} | summary
    if out.checkpoint:
        run.checkpoint("checkpoint.pt", trainer.state())
    if out.plots:
        _draw(run, trainer)
    run.json("summary.json", summary)
    return run.path, summary


def _draw(run: RunDir, trainer: Trainer) -> None:
    title = trainer.name
    last = trainer.history[-1] if trainer.history else {}
    for metric in trainer.metric_names:
        if isinstance(last.get(f"train_{metric}"), (int, float)):
            run.picture(
                f"{metric}.png",
                partial(plot_curves, trainer.history, metric, title=f"{title}: {metric}"),
            )
    first = next((layer for layer in trainer.model.layers if "W" in layer.params), None)
    if first is not None:
        W = first.params["W"]
        shape = trainer.data.input_shape
        image = tuple(shape[-2:]) if len(shape) >= 2 else None
        if W.dim() == 4:  # a conv kernel (C_out, C_in, kh, kw): one (C_in·kh, kw) image per unit
            W, image = W.flatten(1).t(), (W.shape[1] * W.shape[2], W.shape[3])
        run.picture(
            "weights.png",
            lambda p: plot_weight_grid(W, p, f"{title}: first layer weights", image),
        )
