"""Seconds per training epoch under each learning rule beside backprop's, and what the alignment
diagnostics cost.

    python benchmarks/bench_rules.py                  # prints the table (a few minutes)
    python benchmarks/bench_rules.py --json benchmarks/rules.json --doc docs/learning-rules.md
    python benchmarks/bench_rules.py --markdown benchmarks/rules.json
    python benchmarks/bench_rules.py --networks owned --json benchmarks/rules-owned.json \
        --doc docs/learning-rules.md        # the rules that own the step (OWNED)

Networks, each trained by its recipe's own loop (`Trainer.train_epoch`, float32, CPU, batch
64, autograd check, alignment diagnostics and schedule off unless a contestant turns them on)
on the first 12,800 training images (200 steps, so that the diagnostics every 100 steps fall
twice in every timed epoch), scaled to an epoch of 60,000:
  lenet5  the mnist-lenet5 recipe (lr 0.02, as the rule recipes), dfa with scale 0.003 as in
          mnist-lenet5-dfa;
  mlp     mnist-mlp-fa's tanh MLP 784-800-800-10, and brsf under `convention: biotorch`
          (uniform draws) beside corebp's;
  mlp2    the mnist-mlp2-<rule> recipes' tanh MLP 784-256-256-10 under bp, kp, wm (its
          recipe's mirror schedule: `every: 4`, one noise batch each time) and drtp.
Contestants: the network under each rule, and fa with `checks.alignment: {every: 100}`;
beside them, brsf's draws alone (an N(0, 1) tensor of each W's shape per step, the random
numbers brsf needs): 1 + their ratio to backprop's epoch is the least brsf's ratio can be
("brsf's floor"). Every repeat times one epoch of each, back to back; a ratio is the median
over the repeats of the two epochs of the same repeat (the rule's over backprop's; fa with
diagnostics over fa without). Targets: 1.1× backprop for every rule but wm and brsf under
biotorch's convention (1.3×) and the diagnostics every 100 steps (1.05× fa).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import report
import torch
from omegaconf import OmegaConf

from corebp.recipe import load_recipe
from corebp.recipe.shipped import find_recipe
from corebp.training.trainer import Trainer

EPOCH, EXAMPLES, REPEATS = 60_000, 12_800, 5
DIAGNOSED = "fa + alignment every 100"
#: Not a training loop: brsf's random draws alone, what brsf's epoch cannot go below.
DRAWS = "brsf's draws alone"
BRSF_BIOTORCH = "brsf (biotorch)"
OFF = ["train.device=cpu", "schedule=null", "checks.autograd=null", "output.progress=log"]
NO_DIAGNOSTICS = "checks.alignment=null"


class Contestant(NamedTuple):
    """A training loop to time: its recipe and overrides, and the contestant its epoch is
    compared with, under `limit` (none for the baseline itself); `backprop`: the recipe with
    its learning_rule replaced by backprop (an override cannot drop the rule's arguments)."""

    recipe: str
    overrides: list[str]
    against: str | None = None
    limit: float | None = None
    backprop: bool = False


def family(recipe: str, overrides: list[str], dfa: list[str]) -> dict[str, Contestant]:
    """backprop and the FA family on one recipe, and fa with the diagnostics on."""

    def rule(name: str) -> list[str]:
        return [*overrides, f"learning_rule.type={name}"]

    out = {"backprop": Contestant(recipe, [*rule("backprop"), NO_DIAGNOSTICS])}
    for name in ("fa", "dfa", "usf", "brsf", "frsf"):
        extra = dfa if name == "dfa" else []
        out[name] = Contestant(recipe, [*rule(name), *extra, NO_DIAGNOSTICS], "backprop", 1.1)
    out[DIAGNOSED] = Contestant(recipe, [*rule("fa"), "checks.alignment={every: 100}"], "fa", 1.05)
    return out


NETWORKS: dict[str, dict[str, Contestant]] = {
    "lenet5": family("mnist-lenet5", ["optimizer.lr=0.02"], ["learning_rule.scale=0.003"]),
    "mlp": family("mnist-mlp-fa", [], [])
    | {
        BRSF_BIOTORCH: Contestant(
            "mnist-mlp-fa",
            ["learning_rule.type=brsf", "learning_rule.convention=biotorch", NO_DIAGNOSTICS],
            "backprop",
            1.3,
        )
    },
    "mlp2": {
        "backprop": Contestant("mnist-mlp2-bp", [NO_DIAGNOSTICS]),
        "kp": Contestant("mnist-mlp2-kp", [NO_DIAGNOSTICS], "backprop", 1.1),
        "wm": Contestant("mnist-mlp2-wm", [NO_DIAGNOSTICS], "backprop", 1.3),
        "drtp": Contestant("mnist-mlp2-drtp", [NO_DIAGNOSTICS], "backprop", 1.1),
    },
}


def owned(
    recipe: str, rule: str, limit: float | None, variants: dict[str, str] | None = None
) -> dict[str, Contestant]:
    """A rule that owns the step beside backprop on its own recipe (the same network, data,
    batch and optimizer, the rule swapped for backprop); `variants`, {name: override}, are
    the rule under other arguments, each a contestant of its own (pc's inference steps)."""
    out = {"backprop": Contestant(recipe, [NO_DIAGNOSTICS], backprop=True)}
    out[rule] = Contestant(recipe, [NO_DIAGNOSTICS], "backprop", limit)
    for name, override in (variants or {}).items():
        out[name] = Contestant(recipe, [override, NO_DIAGNOSTICS], "backprop", limit)
    return out


#: The rules that own the step, each on its own recipe (`--networks owned`): local losses
#: under a limit of 1.3× backprop (issue 21), the others measured and stated.
OWNED: dict[str, dict[str, Contestant]] = {
    "mlp2 local": owned(
        "mnist-mlp2-local-predsim", "local predsim", 1.3, {"local pred": "learning_rule.loss=pred"}
    ),
    "lenet5 local": owned(
        "mnist-lenet5-local-predsim",
        "local predsim",
        1.3,
        {"local pred": "learning_rule.loss=pred"},
    ),
    "mlp2 pc": owned(
        "mnist-mlp2-pc", "pc", None, {f"pc T={t}": f"learning_rule.steps={t}" for t in (5, 20, 40)}
    ),
    "mlp2 dtp": owned("mnist-mlp2-dtp", "dtp", None),
    # ff's 784-500-500 has no output layer to backpropagate a class loss from: its epoch is
    # stated beside the comparison MLP's under backprop.
    "ff": {
        "backprop mlp2": Contestant("mnist-mlp2-bp", [NO_DIAGNOSTICS]),
        "ff": Contestant("mnist-ff", [NO_DIAGNOSTICS], "backprop mlp2", None),
    },
}


def trainer(c: Contestant) -> Trainer:
    items = [*c.overrides, *OFF, f"data.validation_split={1 - EXAMPLES / EPOCH}"]
    if not c.backprop:
        return Trainer(load_recipe(c.recipe, items))
    config = OmegaConf.load(find_recipe(c.recipe))
    config.learning_rule = {"type": "backprop"}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, f"{c.recipe}.yaml")
        OmegaConf.save(config, path)
        return Trainer(load_recipe(str(path), items))


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


def measure(repeats: int, groups: dict[str, dict[str, Contestant]]) -> dict:
    networks = {}
    for network, contestants in groups.items():
        print(f"{network} ...", file=sys.stderr, flush=True)
        trainers = {name: trainer(c) for name, c in contestants.items()}
        loops = {name: epoch_loop(t) for name, t in trainers.items()}
        if "brsf" in contestants:
            loops[DRAWS] = draws_loop(trainers["backprop"])
        for loop in loops.values():  # warm-up
            loop()
        runs: dict[str, list[float]] = {name: [] for name in loops}
        for _ in range(repeats):
            for name, loop in loops.items():
                runs[name].append(loop())
        networks[network] = {
            "seconds_per_epoch": {name: statistics.median(r) for name, r in runs.items()},
            "runs": runs,
        }
    env = report.environment() | {"torch_threads": torch.get_num_threads(), "repeats": repeats}
    floors = {
        n: 1 + paired(e["runs"], DRAWS, "backprop")
        for n, e in networks.items()
        if DRAWS in e["runs"]
    }
    return {
        "networks": networks,
        "targets": targets(networks, groups),
        "brsf_floor": floors,
        "environment": env,
    }


def paired(runs: dict[str, list[float]], a: str, b: str) -> float:
    return statistics.median(x / y for x, y in zip(runs[a], runs[b], strict=True))


def targets(networks: dict, groups: dict[str, dict[str, Contestant]]) -> list[dict]:
    """Each contestant's ratio to the one it is compared with: under its limit (`met`), or
    stated (limit and met None)."""
    out = []
    for network, entry in networks.items():
        for name, c in groups[network].items():
            if c.against is None:
                continue
            ratio = paired(entry["runs"], name, c.against)
            out.append(
                {
                    "target": f"{network}: {name} / {c.against}",
                    "ratio": ratio,
                    "limit": c.limit,
                    "met": None if c.limit is None else ratio <= c.limit,
                }
            )
    return out


def markdown(result: dict) -> str:
    """The tables docs/learning-rules.md shows, made from the JSON alone: one row of seconds
    per epoch for each network, then the targets."""
    lines = []
    for network, entry in result["networks"].items():
        s = entry["seconds_per_epoch"]
        lines += [
            f"| {network} | " + " | ".join(s) + " |",
            "|---|" + "---:|" * len(s),
            "| s/epoch | " + " | ".join(f"{v:.2f}" for v in s.values()) + " |",
            "",
        ]
    lines += report.targets_table(result["targets"])
    floors = ", ".join(f"{n} {f:.3f}" for n, f in result["brsf_floor"].items())
    if floors:
        lines += ["", f"brsf's floor, 1 + its draws alone / backprop: {floors}."]
    env = result["environment"]
    lines += [
        "",
        f"CPU, torch {env['torch']}, corebp {env['corebp']}, {env['torch_threads']} torch "
        f"threads on {env['cpu_count']} CPUs, median of {env['repeats']} epochs "
        f"of {EXAMPLES:,} images scaled to {EPOCH:,}.",
    ]
    return "\n".join(lines)


#: The contestant groups `--networks` chooses from, and the JSON each writes its table from.
GROUPS = {
    "rules": (NETWORKS, "benchmarks/rules.json"),
    "owned": (OWNED, "benchmarks/rules-owned.json"),
}
BEGIN, END = report.begin("benchmarks/rules.json"), report.END


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    report.add_options(parser)
    parser.add_argument("--repeats", type=int, default=REPEATS, help="timed epochs per figure")
    parser.add_argument(
        "--networks",
        choices=GROUPS,
        default="rules",
        help="rules: the feedback rules' networks; owned: the rules that own the step",
    )
    args = parser.parse_args()
    torch.set_flush_denormal(True)  # as the trainer does on CPU
    groups, source = GROUPS[args.networks]
    marker = report.begin(source)
    report.report(args, lambda: measure(args.repeats, groups), markdown, marker)


if __name__ == "__main__":
    main()
