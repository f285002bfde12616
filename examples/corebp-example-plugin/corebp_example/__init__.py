"""corebp-example-plugin: a third-party plugin adding the Lion optimizer, the Swish layer and
a recipe that uses both.

corebp finds this module through the entry point `example = "corebp_example"` in the group
`corebp` (see pyproject.toml) and calls the hook functions below.
"""

from __future__ import annotations

from pathlib import Path

import corebp
from corebp_example.lion import Lion
from corebp_example.swish import Swish


@corebp.hookimpl
def corebp_register_optimizers() -> dict[str, type[corebp.Optimizer]]:
    return {"lion": Lion}


@corebp.hookimpl
def corebp_register_layers() -> dict[str, type[corebp.Layer]]:
    return {"swish": Swish}


@corebp.hookimpl
def corebp_recipe_files() -> list[Path]:
    return sorted((Path(__file__).parent / "recipes").glob("*.yaml"))


__all__ = ["Lion", "Swish"]
