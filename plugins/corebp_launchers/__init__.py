"""corebp first-party plugin: where `corebp sweep` runs each run (`--launcher NAME`).

- `local`: processes on this machine, `--jobs` at a time (the default);
- `submitit`: Slurm jobs through submitit (pip install 'corebp[slurm]');
- `ray`: tasks on a Ray cluster (pip install 'corebp[ray]').

Registered through the `corebp` entry-point group like any third-party plugin; the core
imports nothing from here. See docs/recipes.md#sweeps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from corebp.hookspecs import hookimpl
from corebp.util.lazy import lazy_attributes

if TYPE_CHECKING:
    from corebp.contracts.launcher import Launcher
    from corebp_launchers.local import LocalLauncher
    from corebp_launchers.ray_tasks import RayLauncher
    from corebp_launchers.slurm import SubmititLauncher

# submitit and ray are imported by the launchers' constructors, never by this package.
__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "corebp_launchers.local": ["LocalLauncher"],
        "corebp_launchers.ray_tasks": ["RayLauncher"],
        "corebp_launchers.slurm": ["SubmititLauncher"],
    },
)


@hookimpl
def corebp_register_launchers() -> dict[str, type[Launcher]]:
    from corebp_launchers.local import LocalLauncher
    from corebp_launchers.ray_tasks import RayLauncher
    from corebp_launchers.slurm import SubmititLauncher

    return {"local": LocalLauncher, "submitit": SubmititLauncher, "ray": RayLauncher}


__all__ = ["LocalLauncher", "RayLauncher", "SubmititLauncher"]
