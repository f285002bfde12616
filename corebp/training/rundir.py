"""A run directory: every file is written whole (temp file + rename), never half.

Files: recipe.yaml (resolved), provenance.json, preprocessing.json (image data only),
metrics.jsonl, summary.json, checkpoint.pt, loss.png, accuracy.png, weights.png.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

import corebp
from corebp.errors import ConfigError, DataError
from corebp.util import source
from corebp.util.atomic import leftovers, save_torch, write_atomic


def default_run_dir(recipe_name: str) -> Path:
    """runs/<recipe>-<YYYYmmdd-HHMMSS>, relative to the working directory."""
    return Path("runs") / f"{recipe_name}-{time.strftime('%Y%m%d-%H%M%S')}"


def _user_path_error(path: Path, e: OSError, fix: str) -> ConfigError:
    return ConfigError(f"output dir {str(path)!r}: {e.strerror or e}; {fix}.")


def finite_or_none(obj: Any) -> Any:
    """`obj` with every NaN or infinite float replaced by None (JSON null)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_none(v) for v in obj]
    return obj


def strict_json(obj: Any, indent: int | None = None) -> str:
    """JSON any strict reader accepts: non-finite numbers are written as null."""
    return json.dumps(finite_or_none(obj), indent=indent, allow_nan=False)


class RunDir:
    """The folder one run writes into, owned by this process alone while it exists.

    Ownership is an exclusive `flock` on the folder itself, held until the process ends (a
    kill releases it): a second run or resume of the same folder is refused. Taking it
    removes the temporary files a killed writer left (`corebp.util.atomic.leftovers`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as e:
            raise _user_path_error(path, e, "expected a folder corebp can open") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise ConfigError(
                f"output dir {str(path)!r} is in use by another corebp run; wait for it to "
                "finish or choose another --output-dir."
            ) from None
        for stale in leftovers(path):  # half-written by a run that was killed
            stale.unlink(missing_ok=True)

    @classmethod
    def create(cls, path: Path | None, recipe_name: str) -> RunDir:
        """A new run directory: `path` (new or empty), or by default a new
        runs/<recipe>-<time>[-n] that no other run has taken, even within the same second."""
        fix = "choose another --output-dir"
        if path is None:
            return cls._new_default(recipe_name)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise ConfigError(
                f"output dir {str(path)!r} exists and is not a folder; expected a new or empty "
                f"folder ({fix})."
            ) from None
        except OSError as e:
            raise _user_path_error(path, e, fix) from None
        run = cls(path)
        if any(path.iterdir()):
            run.close()
            raise ConfigError(
                f"output dir {str(path)!r} already exists and is not empty; expected a new or "
                "empty folder (choose another --output-dir or remove it; to continue an "
                f"interrupted run there: corebp resume {path})."
            )
        return run

    @classmethod
    def _new_default(cls, recipe_name: str) -> RunDir:
        base = default_run_dir(recipe_name)
        n = 1
        try:
            base.parent.mkdir(parents=True, exist_ok=True)
            while True:
                candidate = base if n == 1 else base.with_name(f"{base.name}-{n}")
                try:
                    candidate.mkdir()  # fails if another run took the name first
                    return cls(candidate)
                except FileExistsError:
                    n += 1
        except OSError as e:
            raise _user_path_error(base.parent, e, "choose another --output-dir") from None

    def close(self) -> None:
        """Give up ownership (also done when the process ends)."""
        os.close(self._fd)

    def _write(self, name: str, write: Callable[[Path], object]) -> Path:
        """`write_atomic` into this folder; an OSError (a full disk) is a DataError naming
        the file, which is then as it was (the run stays resumable)."""
        target = self.path / name
        try:
            write_atomic(target, write)
        except OSError as e:
            raise DataError(
                f"{target}: cannot write it ({e.strerror or e}); the file is as it was before. "
                f"Fix: make room (or fix the folder), then continue with: corebp resume "
                f"{self.path}"
            ) from None
        return target

    def text(self, name: str, content: str) -> Path:
        return self._write(name, lambda p: p.write_text(content, encoding="utf-8"))

    def json(self, name: str, obj: Any) -> Path:
        return self.text(name, strict_json(obj, indent=2) + "\n")

    def jsonl(self, name: str, rows: list[dict[str, Any]]) -> Path:
        return self.text(name, "".join(strict_json(row) + "\n" for row in rows))

    def yaml(self, name: str, data: dict[str, Any], header: str = "") -> Path:
        return self.text(name, header + OmegaConf.to_yaml(OmegaConf.create(data)))

    def checkpoint(self, name: str, state: dict[str, Any]) -> Path:
        return self._write(name, lambda p: save_torch(state, p))

    def picture(self, name: str, draw: Callable[[Path], None]) -> Path:
        return self._write(name, draw)


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
        "commit": source.commit(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        **source.arithmetic(),
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
