"""Seconds per training epoch under each learning rule beside backprop's, and what the alignment
diagnostics cost.

    python benchmarks/bench_rules.py                  # prints the table (a few minutes)
    python benchmarks/bench_rules.py --json benchmarks/rules.json --doc docs/learning-rules.md
    python benchmarks/bench_rules.py --markdown benchmarks/rules.json

Networks, each trained by its recipe's own loop (`Trainer.train_epoch`, float32, CPU, batch
64, autograd check and schedule off) on the first 12,800 training images (200 steps, so that
the diagnostics every 100 steps fall twice in every timed epoch), scaled to an epoch of 60,000:
  lenet5  the mnist-lenet5 recipe (lr 0.02, as the rule recipes), dfa with scale 0.003 as in
          mnist-lenet5-dfa;
  mlp     mnist-mlp-fa's tanh MLP 784-800-800-10.
Contestants: the network under backprop, fa, dfa, usf, brsf and frsf, and fa with
`checks.alignment: {every: 100}`; beside them, brsf's draws alone (an N(0, 1) tensor of each
W's shape per step, the random numbers brsf needs): 1 + their ratio to backprop's epoch is
the least brsf's ratio can be ("brsf's floor"). Every repeat times one epoch of each, back
to back; a ratio is the median over the repeats of the two epochs of the same repeat (the
rule's over backprop's; fa with diagnostics over fa without). Targets: every rule ≤ 1.1×
backprop, the diagnostics every 100 steps ≤ 1.05× (5 %).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import report
import torch

from corebp.recipe import load_recipe
from corebp.training.trainer import Trainer

EPOCH, EXAMPLES, REPEATS = 60_000, 12_800, 5
RULES = ["backprop", "fa", "dfa", "usf", "brsf", "frsf"]
DIAGNOSED = "fa + alignment every 100"
#: Not a training loop: brsf's random draws alone, what brsf's epoch cannot go below.
DRAWS = "brsf's draws alone"
NETWORKS = {
    "lenet5": ("mnist-lenet5", ["optimizer.lr=0.02"], {"dfa": ["learning_rule.scale=0.003"]}),
    "mlp": ("mnist-mlp-fa", [], {}),
}
RULE_LIMIT, DIAGNOSTICS_LIMIT = 1.1, 1.05


def trainer(network: str, contestant: str) -> Trainer:
    recipe, overrides, per_rule = NETWORKS[network]
    rule = "fa" if contestant == DIAGNOSED else contestant
    items = [*overrides, f"learning_rule.type={rule}", *per_rule.get(rule, [])]
    items += ["train.device=cpu", "schedule=null", "checks.autograd=null", "output.progress=log"]
    items += [f"data.validation_split={1 - EXAMPLES / EPOCH}"]
    if contestant == DIAGNOSED:
        items.append("checks.alignment={every: 100}")
    return Trainer(load_recipe(recipe, items))


def epoch_loop(t: Trainer) -> Callable[[], float]:
    """Seconds of the next training epoch of `t`, scaled to 60,000 examples."""
    epochs = iter(range(10**9))
    scale = EPOCH / t.data.num_examples("train")

    def timed() -> float:
        start = time.perf_counter()
        t.train_epoch(next(epochs))
        return (time.perf_counter() - start) * scale

    return timed


def draws_loop(t: Trainer) -> Callable[[], float]:
    """Seconds per epoch (scaled) of brsf's draws alone: one N(0, 1) tensor of each weight's
    shape but the first layer's per step, from a CPU generator, as the rule draws them: a
    floor under brsf's epoch."""
    # The first layer sends no error below it, so brsf draws nothing for it.
    shapes = [p.shape for k, p in t.model.params.items() if k.endswith(".W")][1:]
    steps = -(-t.data.num_examples("train") // t.recipe.data.batch_size)
    generator = torch.Generator().manual_seed(0)

    def timed() -> float:
        start = time.perf_counter()
        for _ in range(steps):
            for shape in shapes:
                torch.randn(shape, generator=generator)
        return (time.perf_counter() - start) * EPOCH / t.data.num_examples("train")

    return timed


def measure(repeats: int) -> dict:
    networks = {}
    for network in NETWORKS:
        print(f"{network} ...", file=sys.stderr, flush=True)
        trainers = {c: trainer(network, c) for c in [*RULES, DIAGNOSED]}
        loops = {c: epoch_loop(t) for c, t in trainers.items()}
        loops[DRAWS] = draws_loop(trainers["backprop"])
        for loop in loops.values():  # warm-up
            loop()
        runs: dict[str, list[float]] = {c: [] for c in loops}
        for _ in range(repeats):
            for c, loop in loops.items():
                runs[c].append(loop())
        networks[network] = {
            "seconds_per_epoch": {c: statistics.median(r) for c, r in runs.items()},
            "runs": runs,
        }
    env = report.environment() | {"torch_threads": torch.get_num_threads(), "repeats": repeats}
    floors = {n: 1 + paired(e["runs"], DRAWS, "backprop") for n, e in networks.items()}
    return {
        "networks": networks,
        "targets": targets(networks),
        "brsf_floor": floors,
        "environment": env,
    }


def paired(runs: dict[str, list[float]], a: str, b: str) -> float:
    return statistics.median(x / y for x, y in zip(runs[a], runs[b], strict=True))


def targets(networks: dict) -> list[dict]:
    out = []
    for network, entry in networks.items():
        runs = entry["runs"]
        checks = [(f"{r} / backprop", r, "backprop", RULE_LIMIT) for r in RULES[1:]]
        checks.append((f"{DIAGNOSED} / fa", DIAGNOSED, "fa", DIAGNOSTICS_LIMIT))
        for text, a, b, limit in checks:
            ratio = paired(runs, a, b)
            out.append(
                {
                    "target": f"{network}: {text}",
                    "ratio": ratio,
                    "limit": limit,
                    "met": ratio <= limit,
                }
            )
    return out


def markdown(result: dict) -> str:
    """The table docs/learning-rules.md shows, made from the JSON alone."""
    contestants = [*RULES, DIAGNOSED, DRAWS]
    lines = [
        "| network | " + " | ".join(contestants) + " |",
        "|---|" + "---:|" * len(contestants),
    ]
    for network, entry in result["networks"].items():
        s = entry["seconds_per_epoch"]
        lines.append(
            f"| {network} s/epoch | " + " | ".join(f"{s[c]:.2f}" for c in contestants) + " |"
        )
    lines += ["", *report.targets_table(result["targets"])]
    floors = ", ".join(f"{n} {f:.3f}" for n, f in result["brsf_floor"].items())
    lines += ["", f"brsf's floor, 1 + its draws alone / backprop: {floors}."]
    env = result["environment"]
    lines += [
        "",
        f"CPU, torch {env['torch']}, corebp {env['corebp']}, {env['torch_threads']} torch "
        f"threads on {env['cpu_count']} CPUs, median of {env['repeats']} epochs "
        f"of {EXAMPLES:,} images scaled to {EPOCH:,}.",
    ]
    return "\n".join(lines)


BEGIN, END = report.begin("benchmarks/rules.json"), report.END


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    report.add_options(parser)
    parser.add_argument("--repeats", type=int, default=REPEATS, help="timed epochs per figure")
    args = parser.parse_args()
    torch.set_flush_denormal(True)  # as the trainer does on CPU
    report.report(args, lambda: measure(args.repeats), markdown, BEGIN)


if __name__ == "__main__":
    main()
