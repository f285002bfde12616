"""Shared by the recipe tests: a small synthetic recipe that trains in under a second."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

SYNTHETIC_RECIPE = """\
# A three-class spiral problem, for tests.
model:
  - {type: linear, in_features: 2, out_features: 16, init: xavier}
  - {type: sigmoid}
  - {type: linear, in_features: 16, out_features: 3, init: xavier}
  - {type: sigmoid}
loss: {type: mse, reduction: sum, scale: 0.5}
optimizer: {type: sgd, lr: 0.1}
data: {source: synthetic, batch_size: 16, args: {kind: spirals, num_classes: 3}}
train: {epochs: 2, seed: 0, device: cpu}
metrics: [loss, accuracy]
checks: {autograd: {every: 1}}
output: {progress: log}
"""

#: The files a finished run's directory holds (with plots and checkpoint on).
RUN_FILES = {
    "recipe.yaml",
    "provenance.json",
    "metrics.jsonl",
    "summary.json",
    "checkpoint.pt",
    "loss.png",
    "accuracy.png",
    "weights.png",
}


def write_synthetic_recipe(path: Path, *overrides: str) -> Path:
    """SYNTHETIC_RECIPE with dotted `key=value` overrides merged in, written to `path`."""
    config = OmegaConf.create(SYNTHETIC_RECIPE)
    for item in overrides:
        key, _, value = item.partition("=")
        OmegaConf.update(config, key, yaml.safe_load(value), force_add=True)
    path.write_text(OmegaConf.to_yaml(config))
    return path


@pytest.fixture
def synthetic_recipe(tmp_path: Path) -> Path:
    path = tmp_path / "spirals.yaml"
    path.write_text(SYNTHETIC_RECIPE)
    return path
