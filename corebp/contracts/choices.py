"""`OneOf`: the fixed set of values a constructor argument takes, read from the constant the
constructor checks it against, so that `corebp show` lists the very values the code accepts.

    init: Annotated[str, OneOf(INITIALISERS)] = "uniform"

A set written in the signature itself is a `typing.Literal`, which `corebp show` lists too
and the recipe check enforces; `OneOf` only names the set, the constructor still checks.
"""

from __future__ import annotations

from collections.abc import Iterable


class OneOf:
    """The values an argument may take, in order: the keys of a dict, the items of a tuple."""

    def __init__(self, values: Iterable[object]) -> None:
        self.values = tuple(values)

    def __repr__(self) -> str:
        return f"OneOf({', '.join(map(repr, self.values))})"
