"""Every hook in corebp/hookspecs.py has a one-line docstring and is in docs/plugins.md."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pluggy
import pytest

from corebp import hookspecs

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
HOOKS = [
    f
    for name, f in vars(hookspecs).items()
    if inspect.isfunction(f) and hasattr(f, f"{hookspecs.PROJECT}_spec")
]


def test_hookspecs_are_found() -> None:
    # every hook pluggy registers from the module is in HOOKS, and nothing else
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    registered = {name for name in vars(pm.hook) if name.startswith("corebp_")}
    assert {f.__name__ for f in HOOKS} == registered and registered


def test_the_doc_documents_no_hook_that_does_not_exist() -> None:
    documented = set(re.findall(r"`(corebp_[a-z_]+)\(", DOC.read_text(encoding="utf-8")))
    assert documented and documented <= {f.__name__ for f in HOOKS}, documented


@pytest.mark.parametrize("hook", HOOKS, ids=lambda f: f.__name__)
def test_hookspec_is_documented_with_its_signature(hook) -> None:
    signature = f"{hook.__name__}({', '.join(inspect.signature(hook).parameters)})"
    assert f"`{signature}`" in DOC.read_text(encoding="utf-8"), (
        f"{signature} is not documented in {DOC}; add it to the hook tables there."
    )


@pytest.mark.parametrize("hook", HOOKS, ids=lambda f: f.__name__)
def test_hookspec_has_a_one_line_docstring(hook) -> None:
    doc = inspect.getdoc(hook) or ""
    assert doc and "\n" not in doc, f"{hook.__name__} needs a one-line docstring, got {doc!r}"
