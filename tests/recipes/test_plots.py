"""A run's and a sweep's pictures: readable sizes, titles that name the rule that ran, axes that
say what they show."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure
from PIL import Image

from corebp.recipe import load_recipe
from corebp.training.plots import run_figures, sweep_figure
from corebp.training.run import run_recipe
from corebp.training.sweep import summarise
from corebp.training.trainer import Trainer
from tests.recipes.conftest import write_synthetic_recipe

#: 16-D blobs (drawn as 4×4 images) into 200 hidden units.
WIDE = [
    "data.args={kind: blobs, dims: 16, num_classes: 3}",
    "model.0.in_features=16",
    "model.0.out_features=200",
    "model.2.in_features=200",
]
#: 64-D blobs reshaped to one 8×8 channel, six 5×5 kernels (LeNet's first layer).
CONV = [
    "data.args={kind: blobs, dims: 64, num_classes: 3}",
    "model=[{type: reshape, shape: [1, 8, 8]}, {type: conv2d, in_channels: 1, out_channels: 6,"
    " kernel_size: 5}, {type: sigmoid}, {type: flatten}, {type: linear, in_features: 96,"
    " out_features: 3}, {type: sigmoid}]",
]


def run_pngs(tmp_path: Path, *overrides: str) -> Path:
    """The run directory of the synthetic recipe with `overrides`, trained for one epoch."""
    recipe = write_synthetic_recipe(tmp_path / "r.yaml", "train.epochs=1", *overrides)
    path, _ = run_recipe(load_recipe(str(recipe)), tmp_path / "run")
    return path


def figures(tmp_path: Path, *overrides: str) -> dict[str, Figure]:
    """Every picture of a trained synthetic run, as figures (closed at the test's end)."""
    recipe = write_synthetic_recipe(tmp_path / "r.yaml", *overrides)
    trainer = Trainer(load_recipe(str(recipe)), progress="log")
    trainer.fit()
    return {name: draw() for name, draw in run_figures(trainer).items()}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def title(fig: Figure) -> str:
    """The figure's title: its suptitle, else its first panel's title."""
    return fig.get_suptitle() or fig.axes[0].get_title()


def assert_readable(png: Path) -> None:
    """Between 500 and 900 pixels a side: tiles large enough to see, a title that fits."""
    with Image.open(png) as image:
        assert all(500 <= side <= 900 for side in image.size), image.size


def visible_ticks(fig: Figure) -> list[float]:
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    return [float(t) for t in ax.get_xticks() if lo <= t <= hi]


def test_a_wide_first_layer_is_drawn_as_its_first_64_units_at_a_readable_size(tmp_path):
    assert_readable(run_pngs(tmp_path, *WIDE) / "weights.png")
    fig = figures(tmp_path, *WIDE)["weights.png"]
    assert sum(bool(ax.images) for ax in fig.axes) == 64
    assert "first 64 of 200 units, 4×4 each" in title(fig)


def test_a_few_small_conv_kernels_are_drawn_as_large_as_a_wide_layer(tmp_path):
    assert_readable(run_pngs(tmp_path, *CONV) / "weights.png")
    fig = figures(tmp_path, *CONV)["weights.png"]
    assert sum(bool(ax.images) for ax in fig.axes) == 6
    assert "all 6 units, 5×5 each" in title(fig)


def test_every_title_names_the_learning_rule_that_ran_after_an_override(tmp_path):
    drawn = figures(
        tmp_path,
        "learning_rule.type=fa",
        "learning_rule.scale=0.5",
        "checks={alignment: {every: 10}}",
    )
    assert set(drawn) == {"loss.png", "accuracy.png", "alignment.png", "weights.png"}
    for name, fig in drawn.items():
        assert title(fig).startswith("r, learning rule fa (scale=0.5)\n"), name


def test_the_loss_axis_names_the_loss_and_its_arguments(tmp_path):
    drawn = figures(tmp_path)
    assert (
        drawn["loss.png"].axes[0].get_ylabel() == "MSELoss(reduction='sum', scale=0.5) per example"
    )
    assert drawn["accuracy.png"].axes[0].get_ylabel() == "accuracy (%)"


def test_one_epoch_is_one_tick_at_epoch_1_with_each_value_written_beside_its_dot(tmp_path):
    for name, fig in figures(tmp_path, "train.epochs=1").items():
        if name in ("loss.png", "accuracy.png"):
            assert visible_ticks(fig) == [1.0], name
            assert len(fig.axes[0].texts) == 2, name  # train and test
    for name, fig in figures(tmp_path, "train.epochs=3").items():
        if name in ("loss.png", "accuracy.png"):
            assert visible_ticks(fig) == [1.0, 2.0, 3.0], name
            assert not fig.axes[0].texts, name


def test_the_sweep_figure_has_a_row_per_cell_with_every_seed_its_mean_and_range():
    def cell(label: str, values: list[float | None], status: dict[str, int]) -> dict:
        done = [v for v in values if v is not None]
        summary = summarise(done) if done else None
        runs = [{"value": v} for v in values]
        return {"label": label, "status": status, "summary": summary, "runs": runs}

    results = {
        "recipes": ["r"],
        "fixed": ["train.epochs=2"],
        "metric": "test_accuracy",
        "select": None,
        "seeds": [0, 1, 2],
        "cells": [
            cell("learning_rule.type=backprop", [90.0, 92.0, 97.0], {"completed": 3}),
            cell("learning_rule.type=fa", [80.0, None, 85.0], {"completed": 2, "diverged": 1}),
            cell("learning_rule.type=dfa", [None, None, None], {"diverged": 3}),
        ],
    }
    ax = sweep_figure(results).axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == [c["label"] for c in results["cells"]]
    dots = sorted(
        (float(y), float(x))
        for line in ax.lines
        if line.get_marker() == "o"
        for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True)
    )
    assert dots == [(0, 90.0), (0, 92.0), (0, 97.0), (1, 80.0), (1, 85.0)]
    bars = [  # (mean, row, min, max) of each cell's error bar
        (line.get_xdata()[0], line.get_ydata()[0], *sorted(x for x, _ in ranges.get_segments()[0]))
        for line, _, (ranges,) in ax.containers
        if len(line.get_xdata())
    ]
    assert bars == [(93.0, 0, 90.0, 97.0), (82.5, 1, 80.0, 85.0)]
    texts = [t.get_text() for t in ax.texts]
    assert "no result (3 diverged)" in texts and "93.00, n=3" in texts
    assert ax.get_xlabel() == "test_accuracy (%), at the last epoch"
    assert ax.get_title() == "r, 3 seeds per cell, train.epochs=2"


def test_every_picture_the_docs_show_is_there_and_small():
    docs = Path(__file__).resolve().parents[2] / "docs"
    shown = {
        link
        for doc in docs.glob("*.md")
        for link in re.findall(r"\]\((img/[^)]+)\)", doc.read_text())
    }
    assert shown == {p.relative_to(docs).as_posix() for p in (docs / "img").glob("*.png")}
    for link in shown:
        with Image.open(docs / link) as png:
            assert png.format == "PNG" and (docs / link).stat().st_size < 150_000, link
