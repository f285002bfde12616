"""A run's pictures (matplotlib, Agg backend): loss and accuracy curves, first-layer weight
grid, alignment angles."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
from torch import Tensor

from corebp.checks.alignment import ANGLES


def plot_curves(history: Sequence[dict[str, Any]], metric: str, path: Path, title: str) -> None:
    """One line per split ("train_<metric>", "val_<metric>", "test_<metric>") against epoch."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    epochs = [row["epoch"] for row in history]
    for split in ("train", "val", "test"):
        key = f"{split}_{metric}"
        if history and isinstance(history[0].get(key), (int, float)):
            ax.plot(epochs, [row[key] for row in history], marker="o", label=split)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(metric + (" (%)" if "accuracy" in metric else ""))
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def plot_alignment(records: Sequence[dict[str, Any]], path: Path, title: str) -> None:
    """One panel per angle of the alignment diagnostics (`corebp.checks.alignment`), one line per
    layer: degrees against step, from rows {"step": n, "alignment": {layer: {angle: deg}}}."""
    found = {k for r in records for angles in r["alignment"].values() for k in angles}
    panels = [k for k in ANGLES if k in found]
    layers = list(dict.fromkeys(layer for r in records for layer in r["alignment"]))
    fig, axes = plt.subplots(
        1, len(panels), figsize=(5 * len(panels), 4), dpi=100, squeeze=False, sharey=True
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
    fig.savefig(path, format="png")
    plt.close(fig)


def plot_weight_grid(
    W: Tensor, path: Path, title: str, image_shape: Sequence[int] | None = None
) -> None:
    """Each column of W (in_features, units) drawn as an image, units laid out in a square grid.

    The image shape is `image_shape` (e.g. (28, 28) for MNIST); without it, a square side
    √in_features when in_features is a perfect square, else the whole matrix as one image.
    """
    W = W.detach().float().cpu()
    fan_in, units = W.shape
    if image_shape is None:
        side = math.isqrt(fan_in)
        image_shape = (side, side) if side * side == fan_in else None
    if image_shape is None or math.prod(image_shape) != fan_in:
        fig, ax = plt.subplots(figsize=(6, 6), dpi=100)
        ax.imshow(W.numpy(), cmap="gray", aspect="auto")
        ax.set_xlabel("unit")
        ax.set_ylabel("input")
    else:
        cols = math.ceil(math.sqrt(units))
        rows = math.ceil(units / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(cols, rows), dpi=100, squeeze=False)
        for i, ax in enumerate(axes.flat):
            ax.axis("off")
            if i < units:
                ax.imshow(W[:, i].reshape(tuple(image_shape)).numpy(), cmap="gray")
    fig.suptitle(title)
    fig.savefig(path, format="png")
    plt.close(fig)
