"""Loading a recipe: YAML file + `key=value` overrides (OmegaConf), then the schema (pydantic).

Every problem found — syntax, unknown keys, bad values, unregistered component names, bad
component arguments, errors raised by the constructors of the layers, loss and optimizer
— is collected and raised as ONE `ConfigError`, one line per problem. The layers, loss and
optimizer built to check them are kept in the `LoadedRecipe` for the run
(`corebp.recipe.build`).
"""

from __future__ import annotations

import copy
import math
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from pydantic import BaseModel, ValidationError

from corebp.checks.autograd import rule_twin_problem, twin_problems
from corebp.errors import ConfigError, clip
from corebp.plugins import Registry, registry
from corebp.recipe.build import Core, Node, build_core, core_key, core_of
from corebp.recipe.components import check_arguments, name_key
from corebp.recipe.errors import describe_validation_error, raise_problems
from corebp.recipe.schema import DEFAULT_METRICS, Recipe, TrainSpec
from corebp.recipe.shipped import find_recipe

#: Larger recipe files are refused before they are parsed.
MAX_RECIPE_BYTES = 1 << 20


@dataclass(frozen=True)
class LoadedRecipe:
    """A validated recipe with where it came from, and the core validating it built."""

    name: str
    recipe: Recipe
    path: Path | None = None
    overrides: tuple[str, ...] = field(default=())
    #: The model, loss and optimizer validation built, until a run takes them.
    built: list[Core] = field(default_factory=list, compare=False, repr=False)

    def take_core(self, reg: Registry | None = None) -> Core:
        """The recipe's model, loss and optimizer, untrained: the ones validation built, the
        first time (a copy with another model, loss, optimizer or seed gets its own); new
        ones after that, since the first taker trains its own."""
        if self.built and self.built[0].key == core_key(self.recipe):
            return self.built.pop()
        return core_of(self.recipe, registry() if reg is None else reg)

    def resolved(self) -> dict[str, Any]:
        """The recipe after overrides and defaults, as plain data (what a run directory records)."""
        return self.recipe.model_dump(mode="json")


def load_recipe(
    name_or_path: str, overrides: Sequence[str] = (), reg: Registry | None = None
) -> LoadedRecipe:
    """Find, read, override and validate a recipe (a shipped name or a YAML path)."""
    path = find_recipe(name_or_path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the recipe ({e.strerror or e}).") from None
    if size > MAX_RECIPE_BYTES:
        raise ConfigError(
            f"{path}: {size} bytes; a recipe may have at most {MAX_RECIPE_BYTES} bytes (1 MiB). "
            "Is this the right file?"
        )
    try:
        cfg = OmegaConf.load(path)
    except Exception as e:  # yaml's own errors carry the line and column
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(cfg, DictConfig):
        raise ConfigError(
            f"{path}: expected a mapping of sections (model:, loss:, ...) at the top."
        )
    raw = apply_overrides(cfg, overrides, source=str(path))
    recipe, core = _validate(raw, str(path), registry() if reg is None else reg)
    return LoadedRecipe(path.stem, recipe, path, tuple(overrides), [core] if core else [])


#: What an override looks like, for error messages.
OVERRIDE_FORM = "dotted.key=value, e.g. train.epochs=1 or model.0.init=xavier"
OVERRIDE_PARTS = (
    f"expected {OVERRIDE_FORM}, every part naming a key or an existing list index, and a "
    "plain YAML value (no tags)"
)
INTERPOLATION = (
    "expected an interpolation ${...} to name another key that exists (not itself), "
    "e.g. ${train.epochs}"
)


def apply_overrides(cfg: DictConfig, overrides: Sequence[str], source: str) -> dict[str, Any]:
    """Apply `dotted.key=value` overrides (values parsed as YAML) and return plain data.

    Values are parsed by `OmegaConf.from_dotlist` and applied with `OmegaConf.update(...,
    merge=True)`, which — unlike a plain merge — also reaches into lists (`model.0.init=xavier`).
    """
    problems = []
    for item in overrides:
        key, sep, _ = item.partition("=")
        shown = clip(repr(item))
        if not sep or not key:
            problems.append(f"{shown}: an override must look like {OVERRIDE_FORM}.")
            continue
        if not all(part.strip() for part in key.split(".")):
            problems.append(
                f"{clip(key)}: not a dotted key (a part between dots is empty, in {shown}); "
                f"expected {OVERRIDE_FORM}."
            )
            continue
        try:
            value = OmegaConf.select(OmegaConf.from_dotlist([item]), key)
            OmegaConf.update(cfg, key, value, merge=True)
        except Exception as e:  # OmegaConf's, YAML's (bad syntax, unsafe tags), bad list indices
            first = clip((str(e).splitlines() or [type(e).__name__])[0])
            expected = INTERPOLATION if "nterpolation" in first else OVERRIDE_PARTS
            problems.append(f"{clip(key)}: cannot apply override {shown}: {first}; {expected}.")
    try:
        raw = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None) or "(interpolation)"
        problems.append(f"{key}: {clip(str(e).splitlines()[0])}; {INTERPOLATION}.")
        raw = {}
    raise_problems(problems, f"{source} with overrides")
    return raw  # type: ignore[return-value]


def validate_recipe(raw: dict[str, Any], source: str, reg: Registry | None = None) -> Recipe:
    """Validate plain recipe data against the schema and the registered components."""
    return _validate(raw, source, registry() if reg is None else reg)[0]


def _validate(raw: dict[str, Any], source: str, reg: Registry) -> tuple[Recipe, Core | None]:
    component_problems, validated, core = _component_problems(raw, reg)
    problems: list[str] = []
    recipe = None
    try:
        recipe = Recipe.model_validate(validated)
    except ValidationError as e:
        problems += _schema_problems(e)
    reported = {p.split(":", 1)[0] for p in problems}
    # Of `raw` and of `validated`: a quoted "nan" is a string before and a float after.
    non_finite = _non_finite_problems(raw) + _non_finite_problems(validated)
    problems += [p for p in dict.fromkeys(non_finite) if p.split(":", 1)[0] not in reported]
    problems += component_problems
    raise_problems(problems, source)
    assert recipe is not None  # no problems means the schema validated
    if core is not None:
        core.key = core_key(recipe)
    return recipe, core


def _non_finite_problems(data: Any, key: str = "") -> list[str]:
    """Every NaN or infinite number in the recipe, by dotted key: no setting takes one."""
    if isinstance(data, float) and not math.isfinite(data):
        return [f"{key}: {data} is not a finite number; expected a finite value."]
    if isinstance(data, dict):
        items: Any = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return []
    return [p for k, v in items for p in _non_finite_problems(v, f"{key}.{k}" if key else str(k))]


def _schema_problems(e: ValidationError) -> list[str]:
    errors = e.errors()
    problems = []
    # A misspelt key also makes its correct spelling "missing"; say it once, at the misspelling.
    suggested = set()
    for err in errors:
        if err["type"] == "extra_forbidden":
            allowed = _fields_at(err["loc"][:-1])
            line = describe_validation_error(err, allowed=allowed)
            suggested |= {(*err["loc"][:-1], name) for name in allowed if f"'{name}'" in line}
            problems.append(line)
    for err in errors:
        if err["type"] != "extra_forbidden" and not (
            err["type"] == "missing" and tuple(err["loc"]) in suggested
        ):
            problems.append(describe_validation_error(err))
    return problems


def _fields_at(loc: Sequence[Any]) -> list[str]:
    """The field names of the schema model found at `loc` (list indices skipped)."""
    model: type[BaseModel] = Recipe
    for part in loc:
        if isinstance(part, int):
            continue
        model = _model_in(model.model_fields[part].annotation) or model
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) in (
        typing.Union,
        list,
    ):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _component_problems(
    raw: dict[str, Any], reg: Registry
) -> tuple[list[str], dict[str, Any], Core | None]:
    """Unregistered names, bad arguments and constructor errors, for every component named;
    a copy of `raw` with the arguments as validated (see `check_arguments`); and the
    recipe's core, built (`corebp.recipe.build`) when nothing was wrong with it.

    The layers, loss and optimizer whose arguments check out are built, so that every error
    a constructor raises is reported in one go; schedules, metrics, data sources and the
    rest need the data or the run and are built by `corebp.training.assemble`.
    """
    specs: list[tuple[str, str, Any]] = []
    if isinstance(raw.get("model"), list):
        specs += [("layers", f"model.{i}", s) for i, s in enumerate(raw["model"])]
    specs += [
        (kind, section, raw.get(section))
        for kind, section in (
            ("losses", "loss"),
            ("optimizers", "optimizer"),
            ("learning_rules", "learning_rule"),
            ("schedules", "schedule"),
        )
    ]
    if isinstance(raw.get("metrics"), list):
        specs += [("metrics", f"metrics.{i}", s) for i, s in enumerate(raw["metrics"])]
    output = raw.get("output")
    if isinstance(output, dict) and isinstance(output.get("loggers"), list):
        specs += [("loggers", f"output.loggers.{i}", s) for i, s in enumerate(output["loggers"])]
    data = raw.get("data")
    if isinstance(data, dict) and isinstance(data.get("source"), str):
        args = dict(data.get("args") or {}) if isinstance(data.get("args"), dict) else {}
        if data.get("root") is not None:
            args["root"] = data["root"]
        specs.append(("data_sources", "data", {"type": data["source"], **args}))

    validated = copy.deepcopy(raw)
    problems = [] if "metrics" in raw else _default_metrics_problems(reg)
    nodes: dict[str, Node] = {}
    for kind, key, spec in specs:
        if isinstance(spec, str):
            spec = {"type": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            nodes[key] = None
            continue  # the schema reports the shape problem
        try:
            cls = reg.get(kind, spec["type"], key=name_key(kind, key))
        except ConfigError as e:
            problems.append(str(e))
            nodes[key] = None
            continue
        args = {k: v for k, v in spec.items() if k != "type"}
        arg_key = key if kind != "data_sources" else "data.args"
        arg_problems, args = check_arguments(kind, cls, args, arg_key)
        problems += arg_problems
        nodes[key] = None if arg_problems else (cls, args)
        if not arg_problems:
            _set_arguments(validated, key, args)
        if kind == "optimizers" and not arg_problems and _wants_twin(raw):
            problems += twin_problems(cls, {k: v for k, v in args.items() if k != "lr"})
        if kind == "learning_rules" and _wants_twin(raw) and not cls.exact_gradient:
            problems.append(rule_twin_problem(spec["type"]))
        if kind == "learning_rules":
            problems += _refused_checks(raw, spec["type"], cls.refuses)
    layers = [nodes[key] for kind, key, _ in specs if kind == "layers"]
    core, built_problems = build_core(layers, nodes.get("loss"), nodes.get("optimizer"), _seed(raw))
    return problems + built_problems, validated, core


def _default_metrics_problems(reg: Registry) -> list[str]:
    """A recipe without `metrics` reports `DEFAULT_METRICS`, which must then be registered."""
    missing = [name for name in DEFAULT_METRICS if name not in reg.names("metrics")]
    if not missing:
        return []
    return [
        f"metrics: not given, so the default metrics {', '.join(DEFAULT_METRICS)} are "
        f"reported, but {', '.join(map(repr, missing))} is not a registered metric (is the "
        "metrics plugin loaded?); expected registered metrics. Fix: list the metrics to "
        "report, or give metrics: [] for none."
    ]


def _seed(raw: dict[str, Any]) -> int:
    """The recipe's `train.seed`; its default where it gives none or one the schema refuses
    (the schema reports that, and the core is then never used)."""
    train = raw.get("train")
    given = {"seed": train["seed"]} if isinstance(train, dict) and "seed" in train else {}
    try:
        return TrainSpec.model_validate(given).seed
    except ValidationError:
        return TrainSpec().seed


def _set_arguments(raw: dict[str, Any], key: str, args: dict[str, Any]) -> None:
    """Put the validated arguments `args` of the component at `key` (as `_component_problems`
    names it) into `raw`, where it gave them; a data source's `root` stays in `data.root`."""
    if key == "data":
        spec: Any = raw["data"]
        if isinstance(spec.get("args"), dict):
            spec["args"] = {k: v for k, v in args.items() if k != "root"}
        return
    spec = raw
    for part in key.split("."):  # e.g. "model.2", "optimizer", "output.loggers.0"
        spec = spec[int(part)] if isinstance(spec, list) else spec[part]
    if isinstance(spec, dict):
        spec.update(args)


def _refused_checks(raw: dict[str, Any], rule: str, refuses: dict[str, str]) -> list[str]:
    """The checks the recipe sets that its learning rule refuses (`LearningRule.refuses`)."""
    checks = raw.get("checks")
    given = [k for k, v in checks.items() if v is not None] if isinstance(checks, dict) else []
    return [
        f"checks.{k}: learning_rule {rule!r} {refuses[f'checks.{k}']}; set checks.{k}=null."
        for k in given
        if f"checks.{k}" in refuses
    ]


def _wants_twin(raw: dict[str, Any]) -> bool:
    checks = raw.get("checks")
    autograd = checks.get("autograd") if isinstance(checks, dict) else None
    return isinstance(autograd, dict) and autograd.get("twin") is True
