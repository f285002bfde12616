"""Optional dependencies: imported when a feature needs them, with the extra that installs them."""

from __future__ import annotations

import importlib
from types import ModuleType

from corebp.errors import ConfigError


def require(module: str, extra: str, feature: str) -> ModuleType:
    """`import module`, or a ConfigError saying which corebp extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ConfigError(
            f"{feature} needs the {module.split('.')[0]!r} package, which is not installed "
            f"({e}); expected it from the corebp[{extra}] extra. "
            f"Fix: pip install 'corebp[{extra}]'."
        ) from None
