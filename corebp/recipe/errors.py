"""Turning pydantic's validation errors into corebp's one-line recipe problems.

Each problem reads "dotted.key: what is wrong with the value; expected ...", with
"Did you mean ...?" when a misspelt name is close to a valid one.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from corebp.errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

# pydantic error type -> what the value is not.
_NOT_A = {
    "float_parsing": "a valid number",
    "float_type": "a valid number",
    "int_parsing": "a valid integer",
    "int_type": "a valid integer",
    "int_from_float": "a valid integer (it has a fractional part)",
    "bool_parsing": "a valid boolean; expected true or false",
    "bool_type": "a valid boolean; expected true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping of key: value",
    "model_type": "a mapping of key: value",
    "model_attributes_type": "a mapping of key: value",
}


# Values echoed in messages are shortened: a hostile recipe cannot make an error huge.
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = _SHORT.maxlong = 80
_SHORT.maxlevel = 2
#: At most this many problems are listed; the rest are counted.
MAX_PROBLEMS = 30


def shown(value: Any) -> str:
    """`repr(value)`, shortened with "..." past about 80 characters or 2 levels of nesting."""
    return _SHORT.repr(value)


def dotted(prefix: str, loc: Iterable[Any]) -> str:
    """Join a pydantic location onto a dotted key: ("model", 0, "x") -> "model.0.x"."""
    return ".".join([prefix, *map(str, loc)] if prefix else map(str, loc))


def describe_validation_error(
    err: ErrorDetails, prefix: str = "", allowed: Sequence[str] = (), what: str = "a known key"
) -> str:
    """One problem line for one pydantic error dict (from `ValidationError.errors()`)."""
    key = dotted(prefix, err["loc"]) or "(recipe)"
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        bad = str(err["loc"][-1])
        return (
            f"{key}: unknown key (set to {shown(value)}), not {what}; expected one of: "
            f"{', '.join(allowed) or 'none'}.{did_you_mean(bad, allowed)}"
        )
    if kind == "missing":
        return f"{key}: missing; expected a value for this required key."
    if kind in _NOT_A:
        return f"{key}: {shown(value)} is not {_NOT_A[kind]}."
    if kind == "literal_error":
        return f"{key}: {shown(value)} is not allowed; expected {err['ctx']['expected']}."
    message = err["msg"]
    message = message[0].lower() + message[1:]
    return f"{key}: {shown(value)} is not valid; {message.replace('input should be', 'expected')}."


def raise_problems(problems: Sequence[str], source: str) -> None:
    """Raise one ConfigError listing every problem, or return when there is none."""
    if not problems:
        return
    count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
    lines = [f"  - {p}" for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        lines.append(f"  ... and {len(problems) - MAX_PROBLEMS} more")
    raise ConfigError(f"{source}: {count}:\n" + "\n".join(lines))
