"""TensorBoard as a user opens it: `tensorboard --logdir` with its default loader shows every
number of metrics.jsonl as a scalar, and `EventAccumulator.Scalars` reads the same ones."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from corebp_tensorboard.logger import scalars

from corebp.plugins import load_registry
from corebp.recipe import load_recipe
from corebp.training.run import run_recipe
from tests.recipes.conftest import write_synthetic_recipe

pytest.importorskip("tensorboard", reason="tensorboard (corebp[tensorboard]) not installed")

#: Adds a nested metric to every epoch's row, as the alignment check does; 1/3 is not a float32.
NESTED = """
from corebp.hookspecs import hookimpl


@hookimpl
def corebp_epoch_end(metrics):
    metrics["alignment"] = {"0.W": 0.25, "2.W": 1 / 3}
"""

METRIC_TAGS = {
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
    "seconds",
    "lr",
    "alignment/0.W",
    "alignment/2.W",
}
SECONDS = 60  # how long TensorBoard may take to start and load the run


Series = dict[str, list[tuple[int, float]]]


@pytest.fixture
def run(make_plugin, tmp_path: Path) -> Path:
    """A 3-epoch synthetic run in tmp_path/runs/r, logged to TensorBoard."""
    make_plugin("nested", NESTED)
    reg = load_registry()
    recipe = write_synthetic_recipe(
        tmp_path / "spirals.yaml",
        "train.epochs=3",
        "checks.autograd=null",
        "output.plots=false",
        "output.checkpoint=false",
    )
    loggers = ["output.loggers=[{type: tensorboard, every: 10, histograms: false}]"]
    run_dir, _ = run_recipe(
        load_recipe(str(recipe), loggers, reg=reg), tmp_path / "runs" / "r", reg=reg
    )
    return run_dir


def float32_metrics(run: Path) -> Series:
    """Each number of metrics.jsonl per epoch, rounded to float32 as TensorBoard stores it."""
    series: Series = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        for tag, value in scalars({k: v for k, v in row.items() if k != "epoch"}).items():
            series.setdefault(tag, []).append((row["epoch"], float(np.float32(value))))
    assert set(series) == METRIC_TAGS
    return series


@pytest.fixture
def tensorboard(run: Path, tmp_path: Path) -> Iterator[str]:
    """`tensorboard --logdir runs/` on the loopback, default loader; yields its URL."""
    log = tmp_path / "tensorboard.log"
    command = [str(Path(sys.executable).with_name("tensorboard"))]
    command += ["--logdir", str(run.parent), "--host", "127.0.0.1", "--port", "0"]
    with log.open("w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SECONDS
        while not (found := re.search(r"http://127\.0\.0\.1:\d+", log.read_text())):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"TensorBoard did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield found.group()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def get(url: str, path: str, **query: str) -> object:
    with urllib.request.urlopen(f"{url}{path}?{urllib.parse.urlencode(query)}", timeout=10) as r:
        return json.loads(r.read())


def test_tensorboard_server_shows_every_metric_as_a_float32_scalar(run, tensorboard):
    expected = float32_metrics(run)
    name = f"{run.name}/tensorboard"
    shown: Series = {}
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:  # the loader reads the files in the background
        tags = get(tensorboard, "/data/plugin/scalars/tags")
        assert isinstance(tags, dict)
        shown = {}
        for tag in tags.get(name, {}):
            points = get(tensorboard, "/data/plugin/scalars/scalars", run=name, tag=tag)
            assert isinstance(points, list)
            shown[tag] = [(step, value) for _, step, value in points]
        if all(shown.get(tag) == series for tag, series in expected.items()):
            break
        time.sleep(0.5)
    assert set(shown) == METRIC_TAGS | {"step/train_loss"}
    assert {tag: shown[tag] for tag in METRIC_TAGS} == expected
    steps = json.loads((run / "summary.json").read_text())["steps"]
    assert [step for step, _ in shown["step/train_loss"]] == list(range(0, steps, 10))


def test_event_accumulator_scalars_hold_every_metric_of_metrics_jsonl(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard")).Reload()
    assert set(events.Tags()["scalars"]) == METRIC_TAGS | {"step/train_loss"}
    assert events.Tags()["tensors"] == []
    read = {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in METRIC_TAGS}
    assert read == float32_metrics(run)
