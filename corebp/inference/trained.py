"""A finished run read back: its recipe, its checkpoint and the model with the trained weights.

A checkpoint is only ever opened with `torch.load(..., weights_only=True)`: tensors, numbers,
strings, lists and dicts. A file that holds any other pickled object (which could run code
while loading) is refused with a `DataError`, before anything in it is executed.
`corebp eval`, `corebp predict` and `corebp export` all go through `open_run`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import ValidationError
from torch import Tensor

from corebp.contracts.learning_rule import LearningRule
from corebp.errors import ConfigError, CorebpError, DataError
from corebp.inference.preprocess import ImagePreprocessing
from corebp.layers import Softmax
from corebp.layers.sequential import Sequential
from corebp.losses import CrossEntropyLoss
from corebp.plugins import Registry, registry
from corebp.recipe import LoadedRecipe, load_recipe
from corebp.recipe.schema import ChecksSpec
from corebp.training import checkpoint
from corebp.training.assemble import attach_learning_rule, resolve_device
from corebp.training.run import check_trained_with, recorded_name
from corebp.training.trainer import Trainer

RECIPE = "recipe.yaml"
CHECKPOINT = "checkpoint.pt"
PREPROCESSING = "preprocessing.json"


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

    def own_inference(self, reg: Registry | None = None) -> bool:
        """Whether the run's learning rule predicts with its own inference, not with the
        model's forward (`LearningRule.infer`)."""
        reg = registry() if reg is None else reg
        rule: type[LearningRule] = reg.get("learning_rules", self.loaded.recipe.learning_rule.type)
        return rule.uses("infer")

    def infer(self, model: Sequential, reg: Registry | None = None) -> Callable[[Tensor], Tensor]:
        """What the trained model predicts from for an input: its forward, or the run's
        learning rule's own inference (`LearningRule.infer`), the rule restored from the
        checkpoint."""
        reg = registry() if reg is None else reg
        if not self.own_inference(reg):
            return model.forward
        rule = attach_learning_rule(self.loaded.recipe, reg, model)
        rule.load_state_dict(self.state["learning_rule"])
        return lambda x: rule.infer(model, x)

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
        except ValidationError as e:
            what = "; ".join(
                f"{'.'.join(map(str, err['loc'])) or 'the record'}: {err['msg']}"
                for err in e.errors()[:3]
            )
            reason = what[:300]
        except (OSError, ValueError) as e:
            reason = (str(e).splitlines() or [type(e).__name__])[0][:300]
        raise DataError(
            f"{path}: not a valid preprocessing record ({reason}); expected the one the run "
            "wrote. Fix: restore it, or re-run the recipe."
        )

    def fitted_preprocessing(self, model: Sequential, device: torch.device) -> ImagePreprocessing:
        """`preprocessing()`, checked to give inputs `model` takes (one zero input, pushed
        through in eval mode)."""
        prep = self.preprocessing()
        x = torch.zeros((1, *prep.input_shape), dtype=self.dtype, device=device)
        try:
            model.forward(x)
        except CorebpError as e:
            raise DataError(
                f"{self.path / PREPROCESSING}: its input_shape {list(prep.input_shape)} does not "
                f"fit the run's model ({e}); expected the record the run wrote. Fix: restore "
                "it, or re-run the recipe."
            ) from None
        return prep


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
    state = checkpoint.read(path / CHECKPOINT)
    loaded = load_recipe(str(path / RECIPE), overrides, reg=reg)
    check_trained_with(loaded, state, path / RECIPE)
    name = recorded_name(path) or path.name
    return TrainedRun(path, dataclasses.replace(loaded, name=name), state)


#: The recipe keys that decide which examples a run trained on and which it held out as
#: "val": the source, and the share of its training split held out, drawn with the seed
#: (the DataSource contract). An evaluation may not change them.
SPLIT_KEYS = (("data", "source"), ("data", "validation_split"), ("train", "seed"))


def check_held_out(run: TrainedRun, split: str) -> None:
    """Refuse an evaluation of `split` that would not measure what the run held out: an
    override of a `SPLIT_KEYS` key (a "val" made up after training holds examples the model
    trained on), or "val" of a run that held none out."""
    trained, now = run.state["recipe"], run.loaded.resolved()
    for section, name in SPLIT_KEYS:
        before, after = trained.get(section, {}).get(name), now[section][name]
        if before != after:
            key = f"{section}.{name}"
            raise ConfigError(
                f"{key}={after!r}: the run was trained with {key} {before!r}; another value "
                "changes which examples were held out, so the numbers could count examples "
                f"the model was trained on as unseen. Expected the run's own {key}. Fix: drop "
                f"the override {key}=..."
            )
    if split == "val" and not now["data"]["validation_split"]:
        raise ConfigError(
            f"{run.path}: has no 'val' split: it was trained with data.validation_split 0.0, "
            "so every training example was trained on and none held out for validation; "
            "expected split test or train. Fix: evaluate the test split, or train a run that "
            "holds one out, e.g. `corebp run RECIPE data.validation_split=0.1`."
        )


def evaluate(run: TrainedRun, split: str = "test", reg: Registry | None = None) -> dict[str, Any]:
    """The recipe's metrics of the trained model on `split`, named like summary.json's.

    The data, batching and metrics are the run's own (a Trainer built from its recipe, its
    checks and loggers left out), so the numbers equal the run's for the same split and device.
    Only a split the run held out is evaluated as one (`check_held_out`).
    """
    check_held_out(run, split)
    recipe = run.loaded.recipe
    output = recipe.output.model_copy(update={"loggers": []})
    recipe = recipe.model_copy(update={"checks": ChecksSpec(), "output": output})
    loaded = dataclasses.replace(run.loaded, recipe=recipe)
    with torch.random.fork_rng(devices=[]):
        trainer = Trainer(loaded, reg, progress="log")
    load_weights(trainer.model, run.state, str(run.path / CHECKPOINT))
    return {f"{split}_{k}": v for k, v in trainer.view.evaluate(split).items()}


#: What a prediction's numbers are: "probabilities", a distribution over the classes that
#: the model itself makes (a final softmax layer, or cross-entropy's logits put through
#: softmax), or "outputs", the last layer's raw values (e.g. sigmoids trained with MSE: one
#: score per class that need not sum to 1; no probabilities are made up from them).
Kind = Literal["probabilities", "outputs"]


@dataclass(frozen=True)
class Prediction:
    """The class the model picks for one image (its largest output), its raw outputs, and
    the probabilities where the model makes them (`kind`); `classes` names each class where
    the run's data source named them (preprocessing.json)."""

    file: str
    label: int
    kind: Kind
    outputs: list[float]
    probabilities: list[float] | None
    classes: tuple[str, ...] | None = None

    def name(self, c: int) -> str:
        """Class `c`'s name, or its index where the classes have no names."""
        return str(c) if self.classes is None else self.classes[c]

    @property
    def scores(self) -> list[float]:
        """The numbers `kind` names: the probabilities, or else the outputs."""
        return self.outputs if self.probabilities is None else self.probabilities

    def top(self, k: int) -> list[tuple[int, float]]:
        """The `k` classes with the largest scores, largest first, with their scores."""
        ranked = sorted(range(len(self.scores)), key=lambda c: -self.scores[c])
        return [(c, self.scores[c]) for c in ranked[:k]]

    def as_json(self, top: int) -> dict[str, Any]:
        """Plain data: the file, label, `kind`, the `top` classes with their score (named
        "probability" or "output"), and every output and probability (null for none); with
        class names, "name" beside the label and each of the top classes."""
        score = "probability" if self.kind == "probabilities" else "output"
        named = self.classes is not None
        ranked = [
            {"class": c, **({"name": self.name(c)} if named else {}), score: v}
            for c, v in self.top(top)
        ]
        return {
            "file": self.file,
            "label": self.label,
            **({"name": self.name(self.label)} if named else {}),
            "kind": self.kind,
            "top": ranked,
            "probabilities": self.probabilities,
            "outputs": self.outputs,
        }


@dataclass(frozen=True)
class Predictions:
    """The predictions for the files that could be read, in order, and one problem per file
    that could not (naming the file and why)."""

    results: list[Prediction]
    problems: list[str]


def predict(
    run: TrainedRun,
    files: Sequence[Path | str],
    device: str = "cpu",
    reg: Registry | None = None,
    *,
    resize: bool = False,
    invert: bool = False,
) -> Predictions:
    """Classify image files with the run's model, preprocessed as the run's data was.

    Each file is read and checked on its own (`ImagePreprocessing.read`, with `resize` and
    `invert`): one that cannot be is a problem in the result, and the others are classified.
    Probabilities (see `Kind`): the softmax of the outputs when the loss is cross-entropy
    (logits), the outputs themselves after a final Softmax, and none otherwise.
    """
    reg = registry() if reg is None else reg
    where = resolve_device(device)
    model = run.model(where, reg)
    prep = run.fitted_preprocessing(model, where)
    read: list[tuple[str, Tensor]] = []
    problems: list[str] = []
    for f in files:
        try:
            read.append((str(f), prep.read(Path(f), resize=resize, invert=invert)))
        except DataError as e:
            problems.append(str(e))
    if not read:
        return Predictions([], problems)
    pixels = torch.stack([p for _, p in read])
    outputs = run.infer(model, reg)(prep.apply(pixels.to(where), run.dtype))
    probs: Tensor | None = None
    if issubclass(reg.get("losses", run.loaded.recipe.loss.type), CrossEntropyLoss):
        probs = torch.softmax(outputs, dim=1)
    elif model.layers and isinstance(model.layers[-1], Softmax):
        probs = outputs
    kind: Kind = "outputs" if probs is None else "probabilities"
    labels, shown = outputs.argmax(1).tolist(), outputs.cpu().tolist()
    made = [None] * len(read) if probs is None else probs.cpu().tolist()
    results = [
        Prediction(f, label, kind, o, p, prep.classes)
        for (f, _), label, o, p in zip(read, labels, shown, made, strict=True)
    ]
    return Predictions(results, problems)
