"""A package's attributes imported on first use (PEP 562), so that importing the package does
not import torch: `corebp --help` imports corebp and every plugin package, and must stay fast.

    __getattr__, __dir__ = lazy_attributes(__name__, {"corebp_optim.sgd": ["SGD"]})

makes `corebp_optim.SGD` (and `from corebp_optim import SGD`) import `corebp_optim.sgd` then.
A package lists the same names under `if TYPE_CHECKING:` for type checkers.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_attributes(
    package: str, modules: dict[str, list[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`: each name in `modules[m]` is read from module
    `m` when first asked for, and kept in the package from then on."""
    where = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *where})

    return __getattr__, __dir__
