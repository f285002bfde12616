"""`corebp check`: run the gradient checker over every registered layer and loss, on each
constructor-argument set the class declares in `check_args`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from corebp.errors import ConfigError, did_you_mean
from corebp.plugins import Component, registry

if TYPE_CHECKING:
    import torch

    from corebp.checks.gradcheck import GradcheckReport

#: The dtypes `--dtype` takes, by their names in torch.
DTYPES = ("float64", "float32")


@dataclass
class Outcome:
    """The check of one registered component on one argument set: a report, or why there is
    none."""

    component: Component
    args: dict[str, Any]
    report: GradcheckReport | None = None
    skipped: str | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        """An error, or a failed row of a component whose gradient should be exact."""
        return self.error is not None or (self.report is not None and not self.report.passed)

    @property
    def status(self) -> str:
        if self.error is not None:
            return "ERROR"
        if self.report is None:
            return "skipped"
        if not self.report.passed:
            return "FAIL"
        differs = any(row.status == "expected" for row in self.report.rows)
        return "differs, as declared" if differs else "ok"

    def to_dict(self) -> dict[str, Any]:
        c = self.component
        return {
            "kind": c.kind,
            "name": c.name,
            "plugin": c.plugin,
            "args": self.args,
            "status": self.status,
            "skipped": self.skipped,
            "error": self.error,
            "report": None if self.report is None else self.report.to_dict(),
        }


def run_checks(
    names: list[str] | None = None, dtype: str = "float64", seed: int = 0
) -> list[Outcome]:
    """Check the registered layers and losses (all, or those called `names`), each on every
    argument set of its `check_args` (default: its `example()` as it is), in `dtype` (one of
    DTYPES)."""
    import torch

    reg = registry()
    components = [c for kind in ("layers", "losses") for c in reg.components[kind].values()]
    known = {c.name for c in components}
    for name in names or []:
        if name not in known:
            raise ConfigError(
                f"{name!r} is not a registered layer or loss; expected one of: "
                f"{', '.join(sorted(known))}.{did_you_mean(name, known)}"
            )
    chosen = [c for c in components if not names or c.name in names]
    return [
        outcome
        for c in sorted(chosen, key=lambda c: (c.kind, c.name))
        for outcome in _checks(c, getattr(torch, dtype), seed)
    ]


def _checks(component: Component, dtype: torch.dtype, seed: int) -> list[Outcome]:
    from corebp.testing.core import argument_sets

    try:
        sets = argument_sets(component.obj)
    except TypeError as e:
        return [Outcome(component, {}, error=str(e))]
    return [_check(component, args, dtype, seed) for args in sets]


def _check(component: Component, args: dict[str, Any], dtype: torch.dtype, seed: int) -> Outcome:
    from corebp.checks.gradcheck import check_layer, check_loss

    try:
        instance, shape = component.obj.example(**args)
    except NotImplementedError as e:
        return Outcome(component, args, skipped=str(e))
    except Exception as e:  # a broken plugin layer is reported, not fatal to the others
        return Outcome(component, args, error=f"{type(e).__name__}: {e}")
    checker = check_layer if component.kind == "layers" else check_loss
    try:
        return Outcome(component, args, checker(instance, shape, dtype=dtype, seed=seed))
    except Exception as e:  # a broken plugin layer is reported, not fatal to the others
        return Outcome(component, args, error=f"{type(e).__name__}: {e}")


def _shown(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items()) or "(defaults)"


def _named(outcome: Outcome) -> str:
    """'name', or 'name (arguments)' off the defaults."""
    name = outcome.component.name
    return f"{name} ({_shown(outcome.args)})" if outcome.args else name


def _worst(outcome: Outcome) -> str:
    if outcome.report is None:
        return outcome.skipped or outcome.error or ""
    worst = outcome.report.worst()
    if worst is None:
        return "no compared tensor"
    return f"{worst.max_rel_error:.2g} at {worst.element} ({worst.method})"


def command(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="Registered layer or loss names to check (default: all)."),
    ] = None,
    dtype: Annotated[
        str, typer.Option("--dtype", help="Dtype of the explicit pass: float64 or float32.")
    ] = "float64",
    seed: Annotated[int, typer.Option("--seed", help="Seed of inputs and sampling.")] = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list, one object per component.")
    ] = False,
) -> None:
    """Check every registered layer's and loss's backward against finite differences and autograd.

    Each component is built by its `example()` classmethod (plugins' included), once per
    constructor-argument set it declares in `check_args` (e.g. Softplus: [{}, {"beta": 2.0}]),
    and checked with corebp.checks.gradcheck; failing reports are printed in full. Exits 1 if a
    layer or loss whose gradient should be exact fails (or crashes); layers with
    exact_gradient=False report their differences as "expected".

    Examples:

      corebp check

      corebp check linear softmax --dtype float32

      corebp check --json > gradcheck.json
    """
    if dtype not in DTYPES:
        raise ConfigError(
            f"--dtype {dtype!r} is not supported; expected one of: {', '.join(DTYPES)}."
            f"{did_you_mean(dtype, DTYPES)}"
        )
    outcomes = run_checks(names, dtype, seed)
    if as_json:
        typer.echo(json.dumps([o.to_dict() for o in outcomes], indent=2))
    else:
        table = [("kind", "name", "arguments", "plugin", "status", "worst relative error")] + [
            (
                o.component.kind,
                o.component.name,
                _shown(o.args),
                o.component.plugin,
                o.status,
                _worst(o),
            )
            for o in outcomes
        ]
        widths = [max(len(row[i]) for row in table) for i in range(5)]
        for row in table:
            typer.echo("  ".join([*map(str.ljust, row[:-1], widths), row[-1]]))
        for o in outcomes:
            if o.report is not None and not o.report.passed:
                typer.echo(f"\n{_named(o)}: {o.report}")
    failed = list(dict.fromkeys(_named(o) for o in outcomes if o.failed))
    if failed:
        if not as_json:
            typer.echo(f"\nfailed: {', '.join(failed)}", err=True)
        raise typer.Exit(1)
