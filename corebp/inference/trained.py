"""A finished run read back: its recipe, its checkpoint and the model with the trained weights.

A checkpoint is only ever opened with `torch.load(..., weights_only=True)`: tensors, numbers,
strings, lists and dicts. A file that holds any other pickled object (which could run code
while loading) is refused with a `DataError`, before anything in it is executed.
`corebp eval`, `corebp predict` and `corebp export` all go through `open_run`.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from corebp.errors import ConfigError, DataError
from corebp.inference.preprocess import ImagePreprocessing
from corebp.layers import Softmax
from corebp.layers.sequential import Sequential
from corebp.losses import CrossEntropyLoss
from corebp.plugins import Registry, registry
from corebp.recipe import LoadedRecipe, load_recipe
from corebp.recipe.schema import ChecksSpec
from corebp.training.assemble import resolve_device
from corebp.training.trainer import Trainer

RECIPE = "recipe.yaml"
CHECKPOINT = "checkpoint.pt"
PREPROCESSING = "preprocessing.json"


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint at `path`, read with torch.load(weights_only=True) and nothing else."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = re.search(r"GLOBAL ([\w.]+)", str(e))
        what = f" (it refers to {found.group(1)!r})" if found else ""
        raise DataError(
            f"{path}: refused: it holds a pickled Python object other than tensors and plain "
            f"values, which could run code when loaded{what}; expected a checkpoint written by "
            "`corebp run`. Fix: re-create it with `corebp run`; never load it with "
            "weights_only=False unless you trust its origin."
        ) from None
    except (RuntimeError, OSError, EOFError) as e:
        raise DataError(
            f"{path}: not a readable torch checkpoint ({str(e).splitlines()[0]}); expected the "
            "checkpoint.pt a run writes. Fix: re-run the recipe to write it again."
        ) from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise DataError(
            f"{path}: holds no 'model' dict of tensors; expected the checkpoint.pt a run writes."
        )
    return state


def load_weights(model: Sequential, state: dict[str, Any], where: str) -> None:
    """Copy a checkpoint's `model` (parameters) and `buffers` into the model in place, after
    checking names and shapes."""
    for kind, key, ours in (
        ("parameter", "model", model.params),
        ("buffer", "buffers", model.buffers),
    ):
        tensors = state.get(key, {})
        if not isinstance(tensors, dict) or set(tensors) != set(ours):
            found = sorted(tensors) if isinstance(tensors, dict) else type(tensors).__name__
            raise DataError(
                f"{where}: holds {kind}s {found}; the recipe's model has {sorted(ours)}. Fix: "
                "use the recipe.yaml the run wrote beside it."
            )
        for name, t in ours.items():
            w = tensors[name]
            if not isinstance(w, Tensor) or w.shape != t.shape:
                shape = tuple(w.shape) if isinstance(w, Tensor) else type(w).__name__
                raise DataError(
                    f"{where}: {kind} {name!r} has shape {shape}; the recipe's model expects "
                    f"{tuple(t.shape)}. Fix: use the recipe.yaml the run wrote beside it."
                )
            t.copy_(w)


@dataclass(frozen=True)
class TrainedRun:
    """A run directory with its validated recipe and its checkpoint (read safely)."""

    path: Path
    loaded: LoadedRecipe
    state: dict[str, Any]

    @property
    def dtype(self) -> torch.dtype:
        dtype: torch.dtype = getattr(torch, self.loaded.recipe.train.dtype)
        return dtype

    def model(self, device: torch.device | str = "cpu", reg: Registry | None = None) -> Sequential:
        """The recipe's model on `device`, holding the trained weights, in eval mode."""
        reg = registry() if reg is None else reg
        model = self.loaded.take_core(reg).model.to(device, self.dtype)
        load_weights(model, self.state, str(self.path / CHECKPOINT))
        model.eval()
        return model

    def preprocessing(self) -> ImagePreprocessing:
        """The image preprocessing the run's data source used, from preprocessing.json."""
        path = self.path / PREPROCESSING
        if not path.is_file():
            raise DataError(
                f"{self.path}: has no {PREPROCESSING}; expected one from a run on image data "
                f"(data.source {self.loaded.recipe.data.source!r} records none, or the run is "
                "older than corebp predict). Fix: re-run the recipe with this corebp."
            )
        try:
            return ImagePreprocessing.model_validate_json(path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise DataError(
                f"{path}: not a valid preprocessing record ({str(e).splitlines()[0]})."
            ) from None


def open_run(
    path: Path | str, overrides: Sequence[str] = (), reg: Registry | None = None
) -> TrainedRun:
    """Read a run directory: its checkpoint first (refused unless plain tensors), then its recipe.

    `overrides` (dotted.key=value) apply to the run's recipe.yaml, e.g. `data.root=...` or
    `train.device=cpu`.
    """
    path = Path(path)
    for name in (CHECKPOINT, RECIPE):
        if not (path / name).is_file():
            raise ConfigError(
                f"{path}: no {name} there; expected a run directory written by `corebp run` "
                "(with output.checkpoint: true)."
            )
    state = load_checkpoint(path / CHECKPOINT)
    loaded = load_recipe(str(path / RECIPE), overrides, reg=reg)
    provenance = path / "provenance.json"
    name = path.name
    if provenance.is_file():
        name = json.loads(provenance.read_text(encoding="utf-8")).get("recipe", name)
    return TrainedRun(path, dataclasses.replace(loaded, name=name), state)


def evaluate(run: TrainedRun, split: str = "test", reg: Registry | None = None) -> dict[str, Any]:
    """The recipe's metrics of the trained model on `split`, named like summary.json's.

    The data, batching and metrics are the run's own (a Trainer built from its recipe, its
    checks and loggers left out), so the numbers equal the run's for the same split and device.
    """
    recipe = run.loaded.recipe
    output = recipe.output.model_copy(update={"loggers": []})
    recipe = recipe.model_copy(update={"checks": ChecksSpec(), "output": output})
    loaded = dataclasses.replace(run.loaded, recipe=recipe)
    with torch.random.fork_rng(devices=[]):
        trainer = Trainer(loaded, reg, progress="log")
    load_weights(trainer.model, run.state, str(run.path / CHECKPOINT))
    return {f"{split}_{k}": v for k, v in trainer.view.evaluate(split).items()}


@dataclass(frozen=True)
class Prediction:
    """The class the model picks for one image, its probabilities and its raw outputs."""

    file: str
    label: int
    probabilities: list[float]
    outputs: list[float]


def predict(
    run: TrainedRun,
    files: Sequence[Path | str],
    device: str = "cpu",
    reg: Registry | None = None,
) -> list[Prediction]:
    """Classify image files with the run's model, preprocessed as the run's data was.

    Probabilities: the softmax of the outputs when the loss is cross-entropy (logits), the
    outputs themselves after a final Softmax, else the outputs scaled to sum to 1 (sigmoid
    outputs: one score in [0, 1] per class). Every file is read and checked before any is
    classified.
    """
    reg = registry() if reg is None else reg
    prep = run.preprocessing()
    pixels = torch.stack([prep.read(Path(f)) for f in files])
    where = resolve_device(device)
    model = run.model(where, reg)
    outputs = model.forward(prep.apply(pixels.to(where), run.dtype))
    if issubclass(reg.get("losses", run.loaded.recipe.loss.type), CrossEntropyLoss):
        probs = torch.softmax(outputs, dim=1)
    elif model.layers and isinstance(model.layers[-1], Softmax):
        probs = outputs
    else:
        probs = outputs / outputs.sum(dim=1, keepdim=True)
    return [
        Prediction(str(f), int(p.argmax()), p.tolist(), o.tolist())
        for f, p, o in zip(files, probs.cpu(), outputs.cpu(), strict=True)
    ]
