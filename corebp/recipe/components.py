"""Checking a component's recipe arguments against its registered class's constructor.

The arguments a recipe may give are the constructor's keyword parameters, less those the
run supplies itself (`SUPPLIED`: an optimizer's `params`/`grads`, a metric's `num_classes`).
Their types come from the constructor's annotations, checked with pydantic, so
`optimizer.lr: abc` fails as "optimizer.lr: 'abc' is not a valid number". `instantiate`
builds one component from its recipe node in one call, as torchtune's `config.instantiate`;
what it may supply is what `SUPPLIED` declares, nothing else.
"""

from __future__ import annotations

import inspect
import typing
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from corebp.errors import ConfigError
from corebp.recipe.errors import describe_validation_error

if TYPE_CHECKING:
    from corebp.plugins import Registry

#: Constructor parameters the run fills in, per component kind, with where each comes from
#: (`corebp show` prints it); a recipe may not set them, and `build` supplies no others.
SUPPLIED: dict[str, dict[str, str]] = {
    "layers": {
        "dtype": "train.dtype",
        "device": "train.device",
        "generator": "train.seed",
    },
    "losses": {},
    "optimizers": {"params": "the model", "grads": "the model"},
    "schedules": {
        "base_lr": "optimizer.lr",
        "steps_per_epoch": "the data",
        "total_steps": "train.epochs",
    },
    "metrics": {"num_classes": "the data source"},
    "data_sources": {
        "device": "train.device",
        "dtype": "train.dtype",
        "seed": "train.seed",
        "validation_split": "data.validation_split",
    },
    "learning_rules": {"generator": "train.seed"},
    "loggers": {},
    "launchers": {},
}


@cache
def _arguments_model(cls: type[object], kind: str) -> tuple[type[BaseModel], tuple[str, ...]]:
    """A pydantic model of `cls`'s recipe-settable constructor arguments, and their names."""
    signature = inspect.signature(cls.__init__)
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # an annotation that cannot be resolved is checked as Any
        hints = {}
    fields: dict[str, Any] = {}
    open_ended = False
    for name, p in list(signature.parameters.items())[1:]:
        if p.kind is p.VAR_KEYWORD:
            open_ended = True
        elif p.kind is not p.VAR_POSITIONAL and name not in SUPPLIED[kind]:
            default = ... if p.default is p.empty else p.default
            fields[name] = (hints.get(name, Any), default)
    config = ConfigDict(extra="allow" if open_ended else "forbid", arbitrary_types_allowed=True)
    model = create_model(f"{cls.__name__}Arguments", __config__=config, **fields)
    return model, tuple(fields)


def check_arguments(
    kind: str, cls: type, args: dict[str, Any], key: str
) -> tuple[list[str], dict[str, Any]]:
    """Problems with `args` for `cls` (a `kind` component at recipe key `key`), one per line,
    and the validated arguments (converted to the annotated types: `"0.5"` for a float is
    0.5) to build it from; with problems, the arguments are returned as given."""
    model, names = _arguments_model(cls, kind)
    problems = []
    rest = {}
    for name, value in args.items():
        if name in SUPPLIED[kind]:
            problems.append(
                f"{key}.{name}: {value!r} cannot be set here; expected no {name!r}, it comes "
                f"from {SUPPLIED[kind][name]}."
            )
        else:
            rest[name] = value
    try:
        validated = model.model_validate(rest)
    except ValidationError as e:
        for err in e.errors():
            problems.append(
                describe_validation_error(err, key, names, f"an argument of {cls.__name__}")
            )
        return problems, args
    return problems, (args if problems else {k: getattr(validated, k) for k in rest})


def instantiate(
    reg: Registry, kind: str, name: str, args: dict[str, Any], key: str, **supplied: Any
) -> Any:
    """The `kind` component registered as `name`, built from its recipe arguments `args` at
    recipe key `key`."""
    return build(kind, reg.get(kind, name, key=name_key(kind, key)), args, key, **supplied)


def name_key(kind: str, key: str) -> str:
    """The recipe key that names the component at `key`: `<key>.type`, a data source's
    `data.source`."""
    return "data.source" if kind == "data_sources" else f"{key}.type"


def build(kind: str, cls: type, args: dict[str, Any], key: str, **supplied: Any) -> Any:
    """Construct `cls(**supplied, **args)`, prefixing a ConfigError it raises with `key`.

    `supplied` may only hold what `SUPPLIED[kind]` declares (a TypeError otherwise: the
    declaration `corebp show` and the argument check read must be what the run passes)."""
    undeclared = supplied.keys() - SUPPLIED[kind].keys()
    if undeclared:
        raise TypeError(
            f"{kind}: {sorted(undeclared)} supplied to {cls.__name__} but not declared in "
            f"SUPPLIED[{kind!r}]; declare them there."
        )
    try:
        return cls(**supplied, **args)
    except ConfigError as e:
        raise ConfigError(f"{key}: {e}") from None
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{key}: {cls.__name__}({_show(args)}) failed: {e}") from None


def _show(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items())
