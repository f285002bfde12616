"""corebp-example-plugin: a third-party plugin adding the Lion optimizer and the Swish layer.

corebp finds this module through the entry point `example = "corebp_example"` in the group
`corebp` (see pyproject.toml) and calls the hook functions below.
"""

from __future__ import annotations

import corebp
from corebp_example.lion import Lion
from corebp_example.swish import Swish


@corebp.hookimpl
def corebp_register_optimizers() -> dict[str, type[corebp.Optimizer]]:
    return {"lion": Lion}


@corebp.hookimpl
def corebp_register_layers() -> dict[str, type[corebp.Layer]]:
    return {"swish": Swish}


__all__ = ["Lion", "Swish"]
