"""docs/performance.md shows the table made from benchmarks/results.json, which has the
shape the benchmark promises (the numbers themselves are checked by running it)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))  # the scripts import their shared `report`
spec = importlib.util.spec_from_file_location("bench_train", ROOT / "benchmarks/bench_train.py")
assert spec is not None and spec.loader is not None
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
RESULT = json.loads((ROOT / "benchmarks/results.json").read_text())


def test_results_json_has_the_documented_shape():
    configs = {(c["batch"], c["hidden"]): c for c in RESULT["configs"]}
    for key in bench.ACCEPTANCE:
        entry = configs[key]
        contestants = {"corebp", "torch_autograd", "floor"}
        contestants |= {"notebook"} if key == bench.NOTEBOOK else set()
        assert set(entry["seconds_per_epoch"]) == contestants
        assert all(v > 0 for v in entry["seconds_per_epoch"].values())
        assert set(entry["peak_memory_bytes"]) == {"corebp", "torch_autograd"}
    assert len(RESULT["targets"]) == len(bench.TARGETS) + len(bench.MEMORY_TARGETS)


def test_performance_doc_table_is_the_one_made_from_the_json():
    doc = (ROOT / "docs/performance.md").read_text(encoding="utf-8")
    table = doc.split(bench.BEGIN, 1)[1].split(bench.END, 1)[0].strip()
    assert table == bench.markdown(RESULT)


dist_spec = importlib.util.spec_from_file_location(
    "bench_distributed", ROOT / "benchmarks/bench_distributed.py"
)
assert dist_spec is not None and dist_spec.loader is not None
dist_bench = importlib.util.module_from_spec(dist_spec)
dist_spec.loader.exec_module(dist_bench)


def test_distributed_doc_scaling_table_is_the_one_made_from_the_json():
    result = json.loads((ROOT / "benchmarks/distributed.json").read_text())
    assert set(result["seconds_per_epoch"]) == {
        "1 process, 1 thread",
        "1 process, 2 threads",
        "2 processes, 1 thread each",
    }
    assert all(len(r) == result["environment"]["repeats"] for r in result["runs"].values())
    assert 0 < result["all_reduce_share"] < 1
    doc = (ROOT / "docs/distributed.md").read_text(encoding="utf-8")
    table = doc.split(dist_bench.BEGIN, 1)[1].split(dist_bench.END, 1)[0].strip()
    assert table == dist_bench.markdown(result)
