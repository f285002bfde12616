"""corebp first-party plugin: the seed notebook's own backward rule, kept as it was written.

Registers the layer `sigmoid_as_written` (see `sigmoid_as_written.py`), used by the
`mnist-784-100-10-as-written` recipe to reproduce the notebook's manual-backprop run.
"""

from __future__ import annotations

from corebp.contracts.layer import Layer
from corebp.hookspecs import hookimpl
from corebp_notebook.sigmoid_as_written import SigmoidAsWritten


@hookimpl
def corebp_register_layers() -> dict[str, type[Layer]]:
    return {"sigmoid_as_written": SigmoidAsWritten}


__all__ = ["SigmoidAsWritten"]
