"""corebp-example-plugin: a third-party plugin adding the Lion optimizer, the Swish layer and
a recipe that uses both.

corebp finds this module through the entry point `example = "corebp_example"` in the group
`corebp` (see pyproject.toml) and calls the hook functions below. Every `corebp` command,
`corebp --help` included, imports this module: the components (which import torch) are
imported inside the hooks, and as `corebp_example.Lion`/`.Swish` on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import corebp
from corebp.util.lazy import lazy_attributes

if TYPE_CHECKING:
    from corebp_example.lion import Lion
    from corebp_example.swish import Swish

__getattr__, __dir__ = lazy_attributes(
    __name__, {"corebp_example.lion": ["Lion"], "corebp_example.swish": ["Swish"]}
)


@corebp.hookimpl
def corebp_register_optimizers() -> dict[str, type[corebp.Optimizer]]:
    from corebp_example.lion import Lion

    return {"lion": Lion}


@corebp.hookimpl
def corebp_register_layers() -> dict[str, type[corebp.Layer]]:
    from corebp_example.swish import Swish

    return {"swish": Swish}


@corebp.hookimpl
def corebp_recipe_files() -> list[Path]:
    return sorted((Path(__file__).parent / "recipes").glob("*.yaml"))


__all__ = ["Lion", "Swish"]
