"""corebp first-party plugin: the seed notebook's own backward rule, kept as it was written.

Registers the layer `sigmoid_as_written` (see `sigmoid_as_written.py`), used by the
`mnist-784-100-10-as-written` recipe to reproduce the notebook's manual-backprop run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from corebp.hookspecs import hookimpl
from corebp.util.lazy import lazy_attributes

if TYPE_CHECKING:
    from corebp.contracts.layer import Layer
    from corebp_notebook.sigmoid_as_written import SigmoidAsWritten

# The layer imports torch: only on first use, so that `corebp --help` stays fast.
__getattr__, __dir__ = lazy_attributes(
    __name__, {"corebp_notebook.sigmoid_as_written": ["SigmoidAsWritten"]}
)


@hookimpl
def corebp_register_layers() -> dict[str, type[Layer]]:
    from corebp_notebook.sigmoid_as_written import SigmoidAsWritten

    return {"sigmoid_as_written": SigmoidAsWritten}


__all__ = ["SigmoidAsWritten"]
