"""pluggy's markers for corebp's hooks: `hookspec` (corebp.hookspecs) and `hookimpl` (plugins).

In a module of their own, so that a contract (`corebp.contracts.logger`) can mark its hook
implementations without importing every hook's types.
"""

import pluggy

PROJECT = "corebp"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
