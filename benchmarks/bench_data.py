"""One shuffled MNIST training epoch at batch 32: the notebook's DataLoader vs corebp.

The notebook's loader (torchvision MNIST + ToTensor + Normalize, per-sample Python) is
timed over --loader-batches batches and scaled to a full epoch; corebp's mnist source is
timed over full epochs. Each side reports its fastest repeat, since a busy machine only
ever adds time. Both only iterate the batches (and `view(-1, 784)` them, as the
notebook's training loop does). Exits non-zero below the 20x target. Run:

    python benchmarks/bench_data.py [--root DIR] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch
from corebp_data.fetch import fetch
from corebp_data.mnist import MNIST
from corebp_data.root import resolve_root
from torchvision import datasets, transforms

BATCH = 32
TARGET = 20


def notebook_epoch_seconds(root, batches: int, segments: int) -> tuple[float, int]:
    """Seconds per epoch of the notebook's DataLoader: its first `batches` batches timed in
    `segments` equal parts, the fastest part scaled to the epoch (noise only adds time)."""
    notebook = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
    )
    dataset = datasets.MNIST(root, train=True, download=False, transform=notebook)
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True)
    per_segment = max(1, min(batches, len(loader)) // segments)
    times = []
    batch_iter = iter(loader)
    for _ in range(segments):
        start = time.perf_counter()
        for _, (x, _) in zip(range(per_segment), batch_iter, strict=False):
            x.view(-1, 784)
        times.append(time.perf_counter() - start)
    return min(times) * len(loader) / per_segment, len(loader)


def corebp_epoch_seconds(source: MNIST, epochs: int) -> float:
    """Seconds of the fastest of `epochs` full shuffled epochs of the corebp source."""
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for x, _ in source.batches("train", BATCH, shuffle=True):
            x.view(-1, 784)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=None, help="data root (default: corebp's cache)")
    parser.add_argument("--loader-batches", type=int, default=300, help="notebook batches timed")
    parser.add_argument("--segments", type=int, default=3, help="notebook timing parts")
    parser.add_argument("--epochs", type=int, default=5, help="corebp epochs timed")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()

    torch.manual_seed(0)
    root = resolve_root(args.root)
    fetch("mnist", root)
    start = time.perf_counter()
    source = MNIST(root=root, seed=0)
    load_s = time.perf_counter() - start
    loader_s, n_batches = notebook_epoch_seconds(root, args.loader_batches, args.segments)
    corebp_s = corebp_epoch_seconds(source, args.epochs)
    ratio = loader_s / corebp_s

    print(f"MNIST train, batch {BATCH}, shuffled, {n_batches} batches per epoch")
    print(f"{'pipeline':<22}{'s / epoch':>11}  measured over")
    print(
        f"{'notebook DataLoader':<22}{loader_s:>11.3f}  {args.loader_batches} batches "
        f"in {args.segments} parts, fastest scaled"
    )
    print(f"{'corebp mnist source':<22}{corebp_s:>11.3f}  fastest of {args.epochs} full epochs")
    print(f"speed-up: {ratio:.0f}x (target {TARGET}x); corebp one-time load {load_s:.2f} s")
    if args.json:
        result = {
            "batch_size": BATCH,
            "batches_per_epoch": n_batches,
            "notebook_loader_s_per_epoch": loader_s,
            "notebook_loader_batches_timed": args.loader_batches,
            "notebook_loader_segments": args.segments,
            "corebp_s_per_epoch": corebp_s,
            "corebp_epochs_timed": args.epochs,
            "corebp_load_s": load_s,
            "speedup": ratio,
            "torch": torch.__version__,
            "machine": platform.platform(),
            "threads": torch.get_num_threads(),
        }
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    if ratio < TARGET:
        raise SystemExit(f"speed-up {ratio:.1f}x is below the {TARGET}x target")


if __name__ == "__main__":
    main()
