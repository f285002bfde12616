"""A run directory: every file is written whole (temp file + rename), never half.

Files: recipe.yaml (resolved), provenance.json, metrics.jsonl, summary.json,
checkpoint.pt, loss.png, accuracy.png, weights.png.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

import corebp
from corebp.atomic import write_atomic
from corebp.errors import ConfigError


def default_run_dir(recipe_name: str) -> Path:
    """runs/<recipe>-<YYYYmmdd-HHMMSS>, relative to the working directory."""
    return Path("runs") / f"{recipe_name}-{time.strftime('%Y%m%d-%H%M%S')}"


class RunDir:
    """The folder one run writes into; created empty (an existing non-empty folder is refused)."""

    def __init__(self, path: Path) -> None:
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise ConfigError(
                f"output dir {str(path)!r} already exists and is not empty; expected a new or "
                "empty folder (choose another --output-dir or remove it)."
            )
        path.mkdir(parents=True, exist_ok=True)
        self.path = path

    def text(self, name: str, content: str) -> Path:
        target = self.path / name
        write_atomic(target, lambda p: p.write_text(content, encoding="utf-8"))
        return target

    def json(self, name: str, obj: Any) -> Path:
        return self.text(name, json.dumps(obj, indent=2, sort_keys=False) + "\n")

    def jsonl(self, name: str, rows: list[dict[str, Any]]) -> Path:
        return self.text(name, "".join(json.dumps(row) + "\n" for row in rows))

    def yaml(self, name: str, data: dict[str, Any], header: str = "") -> Path:
        return self.text(name, header + OmegaConf.to_yaml(OmegaConf.create(data)))

    def checkpoint(self, name: str, state: dict[str, Any]) -> Path:
        target = self.path / name
        write_atomic(target, lambda p: torch.save(state, p))
        return target

    def picture(self, name: str, draw: Callable[[Path], None]) -> Path:
        target = self.path / name
        write_atomic(target, draw)
        return target


def provenance(
    *,
    recipe: str,
    path: Path | None,
    overrides: tuple[str, ...],
    seed: int,
    device: torch.device,
    dtype: str,
    plugins: list[Any],
    data: dict[str, str],
    processes: dict[str, Any],
) -> dict[str, Any]:
    """Everything needed to tell where a run's numbers came from."""
    return {
        "recipe": recipe,
        "recipe_file": str(path) if path else None,
        "overrides": list(overrides),
        "command": sys.argv,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "corebp": corebp.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "seed": seed,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor(),
        "dtype": dtype,
        "plugins": [
            {"name": p.name, "version": p.version, "source": p.source, "error": p.error}
            for p in plugins
        ],
        "data": data,
        "processes": processes,
    }
