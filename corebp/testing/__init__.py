"""Conformance suites for corebp components, for plugin authors and corebp alike.

    from corebp.testing import assert_conforms
    assert_conforms(MyOptimizer)            # every check; raises ConformanceError listing failures

    @pytest.mark.parametrize("check", conformance_checks(MyLayer), ids=lambda c: c.id)
    def test_my_layer(check):               # one test per property and argument set
        check()

The suite is chosen by base class (Layer, Loss, Optimizer, Metric, DataSource, LearningRule)
and runs on each constructor-argument set in the class's `check_args` (a list of dicts;
default [{}], the defaults), plus one check that every bool/int/float argument is set away from its
default by some set. Installed with corebp, this package is also a pytest plugin (entry
point `pytest11`), giving the fixtures `corebp_conformance` and `corebp_registry`; see
`corebp.testing.plugin` and docs/plugins.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from corebp.contracts.data_source import DataSource
from corebp.contracts.layer import Layer
from corebp.contracts.learning_rule import LearningRule
from corebp.contracts.loss import Loss
from corebp.contracts.metric import Metric
from corebp.contracts.optimizer import Optimizer
from corebp.testing.core import Check, ConformanceError, argument_sets
from corebp.testing.data_sources import data_source_checks
from corebp.testing.layers import layer_checks, loss_checks
from corebp.testing.learning_rules import learning_rule_checks
from corebp.testing.metrics import metric_checks
from corebp.testing.optimizers import optimizer_checks

#: The base class of each kind with a suite, and the function that lists its checks.
SUITES: dict[type, Any] = {
    Layer: layer_checks,
    Loss: loss_checks,
    Optimizer: optimizer_checks,
    Metric: metric_checks,
    DataSource: data_source_checks,
    LearningRule: learning_rule_checks,
}


def conformance_checks(cls: type, check_args: list[Mapping[str, Any]] | None = None) -> list[Check]:
    """Every check of `cls`'s kind, on `check_args` (default: `cls.check_args`, else [{}])."""
    for base, suite in SUITES.items():
        if isinstance(cls, type) and issubclass(cls, base):
            return list(suite(cls, argument_sets(cls, check_args)))
    raise TypeError(
        f"{cls!r} has no conformance suite; expected a subclass of "
        f"{', '.join('corebp.' + b.__name__ for b in SUITES)}."
    )


def assert_conforms(cls: type, check_args: list[Mapping[str, Any]] | None = None) -> None:
    """Run every check of `cls`; raise one ConformanceError listing each failed property."""
    checks = conformance_checks(cls, check_args)
    failures = []
    for check in checks:
        try:
            check()
        except ConformanceError as e:
            failures.append(str(e))
    if failures:
        raise ConformanceError(
            f"{checks[0].subject} failed {len(failures)} of {len(checks)} conformance checks:\n"
            + "\n".join(f"- {f}" for f in failures)
        )


__all__ = ["SUITES", "Check", "ConformanceError", "assert_conforms", "conformance_checks"]
