"""What every conformance suite shares: a `Check`, its error, and the argument sets it runs on.

A check is one property of one component on one constructor-argument set. Running it
raises `ConformanceError` (an AssertionError, so pytest reports a failure) whose message
starts with the component's kind and class name and the property, then says what was seen.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from corebp.recipe.components import SUPPLIED

#: Default values of these types must be exercised away from their default by `check_args`.
COVERED_TYPES = (bool, int, float)


class ConformanceError(AssertionError):
    """A component broke a property of its kind's contract; the message names both."""


def expect(condition: bool, message: str) -> None:
    """Raise AssertionError(`message`) unless `condition` (unlike `assert`, survives -O)."""
    if not condition:
        raise AssertionError(message)


@dataclass(frozen=True)
class Check:
    """One property of one component on one argument set; call it to run it."""

    kind: str
    component: type
    prop: str
    run: Callable[[], None] = field(repr=False, compare=False)
    args: Mapping[str, Any] | None = None

    @property
    def subject(self) -> str:
        """'<kind> <ClassName>', as failure messages start."""
        return f"{self.kind} {self.component.__name__}"

    @property
    def id(self) -> str:
        """A short test id: class, property and argument set."""
        words = self.prop.split()
        shown = "-".join(words[:6])
        return f"{self.component.__name__}-{shown}" + (f"-{_show(self.args)}" if self.args else "")

    def __call__(self) -> None:
        try:
            self.run()
        except Exception as e:  # AssertionError from a property, or the component crashing
            detail = str(e) if isinstance(e, AssertionError) else f"{type(e).__name__}: {e}"
            on = f" with {_show(self.args)}" if self.args is not None else ""
            raise ConformanceError(f"{self.subject}: {self.prop}{on}: {detail}") from e


def _show(args: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}={v!r}" for k, v in args.items()) + "}"


def argument_sets(cls: type, given: list[Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The constructor-argument sets to check `cls` on: `given`, else `cls.check_args`, else [{}].

    A set holds what a recipe would give; the suites supply the rest themselves (an
    optimizer's params and grads, a metric's num_classes, a data source's device and seed).
    """
    sets = given if given is not None else getattr(cls, "check_args", None) or [{}]
    if not isinstance(sets, (list, tuple)) or not all(isinstance(s, Mapping) for s in sets):
        raise TypeError(
            f"{cls.__name__}.check_args is {sets!r}; expected a list of dicts of constructor "
            "arguments, e.g. [{}, {'beta': 2.0}]."
        )
    return [dict(s) for s in sets]


def uncovered_arguments(cls: type, kind: str, sets: list[dict[str, Any]]) -> list[str]:
    """'name (default d)' for each bool/int/float argument no set moves away from its default."""
    missing = []
    for name, p in inspect.signature(cls).parameters.items():
        if name in SUPPLIED[kind] or p.default is p.empty or p.default is None:
            continue
        if not isinstance(p.default, COVERED_TYPES):
            continue
        if not any(name in s and s[name] != p.default for s in sets):
            missing.append(f"{name} (default {p.default!r})")
    return missing


def coverage_check(kind: str, singular: str, cls: type, sets: list[dict[str, Any]]) -> Check:
    """The check that every numeric or boolean argument is exercised away from its default."""

    def run() -> None:
        missing = uncovered_arguments(cls, kind, sets)
        expect(
            not missing,
            f"{', '.join(missing)} never set to another value by the checked argument sets "
            f"{sets}; a bug that shows only away from the default would pass. Add a set to "
            f"{cls.__name__}.check_args that changes it.",
        )

    return Check(singular, cls, "every numeric or boolean argument is checked off its default", run)
