"""Seconds per MNIST epoch of the notebook network at batch 1024: one process against two.

    python benchmarks/bench_distributed.py                 # prints the table
    python benchmarks/bench_distributed.py --json benchmarks/distributed.json \
        --doc docs/distributed.md
    python benchmarks/bench_distributed.py --markdown benchmarks/distributed.json

Contestants, all the mnist-784-100-10 recipe's own loop (`Trainer.train_epoch`, float32, CPU,
autograd check off) at global batch 1024, in one run of this script:
  1 process, 1 thread    the plain trainer with torch.set_num_threads(1);
  1 process, 2 threads   the same with two threads (torch's intra-op parallelism);
  2 processes, 1 thread  `torchrun --standalone --nproc_per_node=2` over gloo, each rank one
                         thread and 512 examples of each batch, timed on rank 0.
Each figure is the median of `--repeats` epochs after a warm-up epoch. For the two processes
the time rank 0 spends in the gradient all-reduce (waiting for the other rank included) is
reported as its share of the epoch. The machine's load average when the run ends is
recorded: on a machine whose cores are busy with other work, two threads in one process
wait for each other far more than two single-threaded processes do.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import report
import torch

from corebp.recipe import load_recipe
from corebp.training.distributed import launched
from corebp.training.trainer import Trainer

BATCH = 1024
OVERRIDES = [
    f"data.batch_size={BATCH}",
    "train.device=cpu",
    "checks.autograd=null",
    "output.progress=log",
]


def epochs(repeats: int) -> dict[str, list[float]]:
    """Train 1 + `repeats` epochs in this process (data-parallel under torchrun): the timed
    epochs and, data-parallel, the seconds of each epoch spent in the all-reduce."""
    loaded = load_recipe("mnist-784-100-10", OVERRIDES)
    with launched(loaded.recipe, torch.device("cpu")) as parallel:
        trainer = Trainer(loaded, parallel=parallel)
        reducing = [0.0]
        if parallel is not None:
            reduce = parallel.all_reduce

            def timed_reduce(examples: int) -> None:
                t0 = time.perf_counter()
                reduce(examples)
                reducing[0] += time.perf_counter() - t0

            parallel.all_reduce = timed_reduce  # type: ignore[method-assign]
        seconds, shares = [], []
        for epoch in range(repeats + 1):
            reducing[0] = 0.0
            t0 = time.perf_counter()
            trainer.train_epoch(epoch)
            if epoch:
                seconds.append(time.perf_counter() - t0)
                shares.append(reducing[0] / seconds[-1])
    return {"seconds": seconds, "all_reduce_share": shares}


def two_processes(repeats: int) -> dict[str, list[float]]:
    """`epochs` run by torchrun over 2 gloo ranks of one thread each; rank 0's figures."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rank0.json"
        env = os.environ | {"OMP_NUM_THREADS": "1"}
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        command += ["--nproc_per_node=2", __file__, "--worker", str(out), f"--repeats={repeats}"]
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())


def run(repeats: int) -> dict:
    runs: dict[str, list[float]] = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        print(f"1 process, {threads} thread(s) ...", file=sys.stderr, flush=True)
        name = f"1 process, {threads} thread{'s' if threads > 1 else ''}"
        runs[name] = epochs(repeats)["seconds"]
    print("2 processes, 1 thread each ...", file=sys.stderr, flush=True)
    two = two_processes(repeats)
    runs["2 processes, 1 thread each"] = two["seconds"]
    return {
        "batch": BATCH,
        "seconds_per_epoch": {k: statistics.median(v) for k, v in runs.items()},
        "all_reduce_share": statistics.median(two["all_reduce_share"]),
        "runs": runs,
        "environment": {
            **report.environment(),
            "load_average": os.getloadavg()[0],
            "backend": "gloo",
            "repeats": repeats,
        },
    }


def markdown(result: dict) -> str:
    """The scaling table docs/distributed.md shows, made from the JSON alone."""
    seconds = result["seconds_per_epoch"]
    base = seconds["1 process, 1 thread"]
    lines = [
        f"| at batch {result['batch']} | s/epoch | speed-up over 1 process, 1 thread |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {s:.3f} | {base / s:.2f}× |" for name, s in seconds.items()]
    env = result["environment"]
    lines += [
        "",
        f"All-reduce share of the 2-process epoch: {result['all_reduce_share']:.0%}. "
        f"torch {env['torch']}, corebp {env['corebp']}, {env['backend']}, "
        f"{env['cpu_count']} CPUs (load average {env['load_average']:.1f} when measured), "
        f"median of {env['repeats']} epochs.",
    ]
    return "\n".join(lines)


BEGIN, END = report.begin("benchmarks/distributed.json"), report.END


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    report.add_options(parser)
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per figure")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_flush_denormal(True)  # as the trainer does on CPU
    if args.worker:
        figures = epochs(args.repeats)
        if os.environ.get("RANK") == "0":
            args.worker.write_text(json.dumps(figures))
        return
    report.report(args, lambda: run(args.repeats), markdown, BEGIN)


if __name__ == "__main__":
    main()
