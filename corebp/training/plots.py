"""A run's and a sweep's pictures (matplotlib, Agg backend): loss and accuracy curves,
first-layer weight grid, alignment angles, a sweep's metric per cell.

Each `*_figure` function returns the figure it drew (so that a test can read its titles,
labels and ticks); `save` writes one as PNG and closes it. `run_figures` names a finished
run's pictures.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torch import Tensor

from corebp.checks.alignment import ANGLES

if TYPE_CHECKING:
    from corebp.recipe.schema import ComponentSpec
    from corebp.training.trainer import Trainer

#: The most units `weights_figure` draws (the first ones); the title says how many there are.
MAX_UNITS = 64
#: The side of the weight grid's figure, in inches, whatever the number of units (a few small
#: conv kernels are drawn as large as 64 MLP units).
GRID_INCHES = 7.0
DPI = 100


def save(fig: Figure, path: Path) -> None:
    """Write `fig` to `path` as PNG and close it."""
    try:
        fig.savefig(path, format="png", dpi=DPI)
    finally:
        plt.close(fig)


def curves_figure(
    history: Sequence[dict[str, Any]], metric: str, *, title: str, ylabel: str
) -> Figure:
    """One line per split ("train_<metric>", "val_<metric>", "test_<metric>") against epoch;
    a tick at every epoch up to 10 epochs (one epoch: one tick, each value written beside its
    dot)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=DPI)
    epochs = [row["epoch"] for row in history]
    for split in ("train", "val", "test"):
        key = f"{split}_{metric}"
        if history and isinstance(history[0].get(key), (int, float)):
            values = [row[key] for row in history]
            ax.plot(epochs, values, marker="o", label=split)
            if len(epochs) == 1:
                ax.annotate(
                    f"{values[0]:.4g}",
                    (epochs[0], values[0]),
                    xytext=(8, 0),
                    textcoords="offset points",
                    va="center",
                )
    if len(epochs) <= 10:
        ax.set_xticks(epochs)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(epochs) == 1:
        ax.set_xlim(epochs[0] - 0.5, epochs[0] + 0.5)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def alignment_figure(records: Sequence[dict[str, Any]], *, title: str) -> Figure:
    """One panel per angle of the alignment diagnostics (`corebp.checks.alignment`), one line per
    layer: degrees against step, from rows {"step": n, "alignment": {layer: {angle: deg}}}."""
    found = {k for r in records for angles in r["alignment"].values() for k in angles}
    panels = [k for k in ANGLES if k in found]
    layers = list(dict.fromkeys(layer for r in records for layer in r["alignment"]))
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5 * len(panels), 4.2), dpi=DPI, squeeze=False, sharey=True
    )
    for ax, key in zip(axes[0], panels, strict=True):
        for color, layer in enumerate(layers):  # a layer has one color in every panel
            points = [
                (r["step"], r["alignment"][layer][key])
                for r in records
                if r["alignment"].get(layer, {}).get(key) is not None
            ]
            if points:
                ax.plot(*zip(*points, strict=True), marker=".", color=f"C{color}", label=layer)
        ax.axhline(90, color="gray", linewidth=0.8, linestyle="--")
        ax.set_title(key.replace("_", " "))
        ax.set_xlabel("step")
        ax.set_ylim(0, 180)
        ax.grid(True, alpha=0.3)
        ax.legend()
    axes[0][0].set_ylabel("angle (degrees)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def weights_figure(
    W: Tensor, *, title: str, image_shape: Sequence[int] | None = None, max_units: int = MAX_UNITS
) -> Figure:
    """The first `max_units` columns of W (in_features, units), each drawn as an image (grey,
    scaled to its own range), in a square grid on a figure of fixed size.

    The image shape is `image_shape` (e.g. (28, 28) for MNIST); without it, a square side
    √in_features when in_features is a perfect square, else the whole matrix as one image.
    """
    W = W.detach().float().cpu()
    fan_in, units = W.shape
    if image_shape is None:
        side = math.isqrt(fan_in)
        image_shape = (side, side) if side * side == fan_in else None
    if image_shape is None or math.prod(image_shape) != fan_in:
        fig, ax = plt.subplots(figsize=(6.4, 6.4), dpi=DPI)
        ax.imshow(W.numpy(), cmap="gray", aspect="auto")
        ax.set_xlabel("unit")
        ax.set_ylabel("input")
        fig.suptitle(f"{title}: {fan_in} inputs × {units} units")
        fig.tight_layout()
        return fig
    shown = min(units, max_units)
    cols = math.ceil(math.sqrt(shown))
    rows = math.ceil(shown / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(GRID_INCHES, GRID_INCHES * rows / cols + 0.8), dpi=DPI, squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < shown:
            ax.imshow(
                W[:, i].reshape(tuple(image_shape)).numpy(), cmap="gray", interpolation="nearest"
            )
    which = f"first {shown} of {units} units" if shown < units else f"all {units} units"
    fig.suptitle(f"{title}: {which}, {'×'.join(map(str, image_shape))} each")
    fig.tight_layout()
    return fig


def sweep_figure(results: dict[str, Any]) -> Figure:
    """A sweep's metric per cell (sweep.json's `results`), one row per cell in the grid's order:
    each seed's value as a circle, the mean as a diamond on a bar from min to max, and the mean
    and the number of runs written at the right; a cell without a finished run says why."""
    metric, select, cells = results["metric"], results["select"], results["cells"]
    fig, ax = plt.subplots(figsize=(8, 1.8 + 0.45 * len(cells)), dpi=DPI, layout="constrained")
    beside: dict[str, Any] = {"xycoords": ("axes fraction", "data"), "va": "center", "fontsize": 9}
    for row, cell in enumerate(cells):
        s = cell["summary"]
        if s is None:
            status = ", ".join(f"{n} {k}" for k, n in sorted(cell["status"].items()))
            ax.annotate(f"no result ({status})", (0.02, row), color="gray", **beside)
            continue
        ax.errorbar(
            s["mean"],
            row,
            xerr=[[s["mean"] - s["min"]], [s["max"] - s["mean"]]],
            fmt="D",
            color="C1",
            ecolor="gray",
            markersize=8,
            capsize=4,
        )
        values = [r["value"] for r in cell["runs"] if r["value"] is not None]
        ax.plot(values, [row] * len(values), "o", mfc="none", mec="C0", mew=1.5, zorder=3)
        ax.annotate(f"{s['mean']:.2f}, n={s['n']}", (1.01, row), **beside)
    ax.plot([], [], "o", mfc="none", mec="C0", mew=1.5, label="one seed")
    ax.errorbar([], [], xerr=[], fmt="D", color="C1", ecolor="gray", label="mean, min–max")
    ax.set_yticks(range(len(cells)), [cell["label"] for cell in cells])
    ax.set_ylim(len(cells) - 0.5, -0.5)  # the first cell on top, as in sweep.md
    ax.margins(x=0.05)
    how = f"at the epoch with the best {select}" if select else "at the last epoch"
    ax.set_xlabel(f"{metric}{' (%)' if 'accuracy' in metric else ''}, {how}")
    recipes = " + ".join(results["recipes"])
    if len(recipes) > 60:
        recipes = f"{results['recipes'][0]} and {len(results['recipes']) - 1} more recipes"
    ax.set_title(
        "\n".join(
            textwrap.wrap(
                f"{recipes}, {len(results['seeds'])} seeds per cell"
                + "".join(f", {item}" for item in results["fixed"]),
                90,
            )
        ),
        fontsize=10,
    )
    ax.grid(True, axis="x", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=2, fontsize=9)
    return fig


def rule_text(spec: ComponentSpec) -> str:
    """'learning rule fa' or, with arguments, 'learning rule fa (scale=0.05)'."""
    args = ", ".join(f"{k}={v}" for k, v in spec.args.items())
    return f"learning rule {spec.type}" + (f" ({args})" if args else "")


def run_figures(trainer: Trainer) -> dict[str, Callable[[], Figure]]:
    """A finished run's pictures by file name, each drawn when called: `<metric>.png` per
    numeric metric, alignment.png with alignment records, weights.png for a first layer with
    a weight `W`. Titles name the recipe and the learning rule that ran."""
    name = f"{trainer.name}, {rule_text(trainer.recipe.learning_rule)}"
    history = trainer.history
    last = history[-1] if history else {}
    figures: dict[str, Callable[[], Figure]] = {}
    for metric in (m.type for m in trainer.recipe.metrics):
        if isinstance(last.get(f"train_{metric}"), (int, float)):
            if metric == "loss":
                ylabel = f"{trainer.loss!r} per example"
            else:
                ylabel = metric + (" (%)" if "accuracy" in metric else "")
            figures[f"{metric}.png"] = partial(
                curves_figure, history, metric, title=f"{name}\n{metric}", ylabel=ylabel
            )
    measured = [r for r in trainer.view.records if r.get("alignment")]
    if measured:
        figures["alignment.png"] = partial(
            alignment_figure, measured, title=f"{name}\nalignment with backprop"
        )
    first = next((layer for layer in trainer.model.layers if "W" in layer.params), None)
    if first is not None:
        W = first.params["W"]
        shape = trainer.data.input_shape
        image = tuple(shape[-2:]) if len(shape) >= 2 else None
        if W.dim() == 4:  # a conv kernel (C_out, C_in, kh, kw): one (C_in·kh, kw) image per unit
            W, image = W.flatten(1).t(), (W.shape[1] * W.shape[2], W.shape[3])
        figures["weights.png"] = partial(
            weights_figure, W, title=f"{name}\nfirst layer weights", image_shape=image
        )
    return figures
