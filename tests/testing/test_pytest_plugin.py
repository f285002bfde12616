"""The kit is a pytest plugin: installed corebp gives any project its fixtures, no conftest."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "examples" / "corebp-example-plugin"


def _pytest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_pytest_fixtures_in_a_third_party_distribution_lists_the_kit(tmp_path: Path) -> None:
    dist = tmp_path / "corebp-example-plugin"
    shutil.copytree(EXAMPLE, dist, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    assert not list(dist.rglob("conftest.py"))
    result = _pytest("--fixtures", "tests", cwd=dist)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fixtures defined from corebp.testing.plugin" in result.stdout
    for fixture in ("corebp_conformance", "corebp_registry"):
        assert f"\n{fixture} -- " in result.stdout, result.stdout
    assert "Run corebp's conformance suite on a component" in result.stdout


def test_a_third_party_test_fails_through_the_fixture_naming_the_component(tmp_path: Path) -> None:
    (tmp_path / "test_broken.py").write_text(
        "import corebp, torch\n"
        "class Leaky(corebp.Layer):\n"
        "    def __init__(self, slope: float = 0.1):\n"
        "        super().__init__()\n"
        "        self.slope = slope\n"
        "    def _forward(self, x):\n"
        "        return torch.where(x > 0, x, self.slope * x), x\n"
        "    def update_grad_input(self, x, g, params):\n"
        "        return torch.where(x > 0, g, 0.1 * g)  # the bug: slope dropped\n"
        "    def reference(self, x, params):\n"
        "        return torch.where(x > 0, x, self.slope * x)\n"
        "def test_leaky(corebp_conformance):\n"
        "    corebp_conformance(Leaky, check_args=[{}, {'slope': 0.3}])\n"
    )
    result = _pytest("-q", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        "layer Leaky: backward matches finite differences and autograd with {slope=0.3}"
        in result.stdout
    )
