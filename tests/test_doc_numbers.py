"""The numbers the docs and recipe headers state are the measured ones.

- Accuracy over seeds: benchmarks/seed_sweep.py writes benchmarks/seed_sweep.json; the docs
  and headers quote each recipe's distribution as `quote(entry)` (median, range, seeds).
- docs/performance.md's prose: the figures of benchmarks/results.json.
- docs/backprop.md: the notebook recipe's autograd check measures an error of exactly 0.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from corebp.recipe import load_recipe
from corebp.run import run_recipe

ROOT = Path(__file__).parents[1]
spec = importlib.util.spec_from_file_location("seed_sweep", ROOT / "benchmarks/seed_sweep.py")
assert spec is not None and spec.loader is not None
sweep = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sweep)
SWEEP = json.loads((ROOT / "benchmarks/seed_sweep.json").read_text(encoding="utf-8"))["recipes"]
BENCH = json.loads((ROOT / "benchmarks/results.json").read_text(encoding="utf-8"))

NOTEBOOK, AS_WRITTEN, TUNED, RELU = sweep.RECIPES
#: file -> the recipes whose seed distribution it quotes.
QUOTED = {
    "docs/backprop.md": [NOTEBOOK, AS_WRITTEN, TUNED],
    "docs/recipes.md": [NOTEBOOK, AS_WRITTEN, TUNED, RELU],
    f"recipes/{NOTEBOOK}.yaml": [NOTEBOOK, AS_WRITTEN],
    f"recipes/{AS_WRITTEN}.yaml": [AS_WRITTEN, NOTEBOOK],
    f"recipes/{TUNED}.yaml": [TUNED],
    f"recipes/{RELU}.yaml": [RELU],
}
#: Claims that were stale or overstated; they must not come back.
RETIRED = [
    "55–88",
    "only because its backward is wrong",
    "3·10⁻⁷",
    "corebp ÷ floor ≈ 1.0",
    "two core layers and one loss",
    "≥ 97.0",
]


def test_the_sweep_covers_seeds_0_to_9_of_every_recipe_and_its_summaries_match():
    assert set(SWEEP) == set(sweep.RECIPES)
    for entry in SWEEP.values():
        runs = {int(s): a for s, a in entry["test_accuracy"].items()}
        assert sorted(runs) == list(range(len(runs))) and len(runs) >= 5
        assert {k: entry[k] for k in ("seeds", "median", "mean", "min", "max")} == (
            sweep.summarise(runs)
        )


@pytest.mark.parametrize(("path", "recipes"), QUOTED.items())
def test_docs_and_headers_quote_the_seed_sweep(path: str, recipes: list[str]):
    text = " ".join((ROOT / path).read_text(encoding="utf-8").split())
    for recipe in recipes:
        assert sweep.quote(SWEEP[recipe]) in text, f"{path}: quote {recipe} from seed_sweep.json"


def test_the_as_written_rule_is_reliable_and_correct_gradients_a_lottery():
    """docs/backprop.md: the rule's range is narrow, the gradient's wide with a higher best."""
    notebook, as_written = SWEEP[NOTEBOOK], SWEEP[AS_WRITTEN]
    assert as_written["max"] - as_written["min"] < 2
    assert notebook["max"] - notebook["min"] > 30
    assert notebook["median"] < as_written["median"] < notebook["max"]


def test_the_tuned_recipes_bar_holds_on_every_seed_measured():
    """One bar for mnist-784-100-10-tuned, the same in its header, the docs and the MNIST test."""
    bar = "≥ 97.4 % on every seed measured"
    assert SWEEP[TUNED]["min"] >= 97.4
    for path in ("docs/recipes.md", "docs/backprop.md", f"recipes/{TUNED}.yaml"):
        assert bar in " ".join((ROOT / path).read_text(encoding="utf-8").split())
    mnist_test = (ROOT / "tests/recipes/test_mnist.py").read_text(encoding="utf-8")
    assert 'summary["test_accuracy"] >= 97.4' in mnist_test


def test_retired_claims_are_gone():
    for path in [*ROOT.glob("docs/*.md"), *ROOT.glob("recipes/*.yaml")]:
        text = " ".join(path.read_text(encoding="utf-8").split())
        for claim in RETIRED:
            assert claim not in text, f"{path.name} still says {claim!r}"


def test_performance_prose_states_the_benchmark_figures():
    doc = " ".join((ROOT / "docs/performance.md").read_text(encoding="utf-8").split())
    configs = {(c["batch"], c["hidden"]): c["seconds_per_epoch"] for c in BENCH["configs"]}
    seconds = configs[(32, 100)]
    targets = {t["target"]: t for t in BENCH["targets"]}
    ratio = targets["corebp / floor at batch 32"]["ratio"]
    met = sum(t["met"] for t in BENCH["targets"])
    torch_s = seconds["torch_autograd"]
    to_torch = targets["corebp / torch_autograd at batch 32"]["ratio"]
    expected = [
        f"{met} of the {len(targets)} targets hold",
        f"takes {seconds['notebook']:.2f} s per epoch",
        f"corebp's epoch, {seconds['corebp']:.2f} s, is {ratio:.2f}× the bare loop's "
        f"{seconds['floor']:.2f} s",
        f"{seconds['corebp'] / seconds['floor']:.2f} as a ratio of the medians",
        f"would need {seconds['notebook'] / 20:.2f} s per epoch, less than the bare loop",
        f"torch.nn + autograd takes {torch_s:.2f} s per epoch here and corebp "
        f"{seconds['corebp']:.2f} s, a ratio of {to_torch:.2f}",
        f"0.6× torch's {torch_s:.2f} s is {0.6 * torch_s:.2f} s, "
        f"{0.6 * torch_s / seconds['floor']:.2f}× the bare loop",
    ]
    for phrase in expected:
        assert phrase in doc
    assert seconds["notebook"] / 20 < seconds["floor"]
    assert 0.6 * torch_s <= seconds["floor"]  # "the limit sits at the floor itself"


@pytest.mark.mnist
def test_notebook_recipe_gradients_are_bit_identical_to_autograd_in_float32(tmp_path: Path):
    # A 1 % training share keeps this to ~19 checked steps.
    overrides = ["output.progress=log", "train.epochs=1", "data.validation_split=0.99"]
    summary = run_recipe(load_recipe(NOTEBOOK, overrides), tmp_path / "run")[1]
    check = summary["autograd_check"]
    assert check["steps_checked"] == summary["steps"] >= 18
    assert check["max_abs_error"] == 0 and check["max_rel_error"] == 0
