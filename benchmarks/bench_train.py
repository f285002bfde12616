"""Seconds per training epoch of the notebook network and LeNet-5: corebp beside its peers.

    python benchmarks/bench_train.py                      # full table (a few minutes)
    python benchmarks/bench_train.py --json benchmarks/results.json
    python benchmarks/bench_train.py --quick              # smoke run: fewer steps and repeats
    python benchmarks/bench_train.py --json benchmarks/results.json --doc docs/performance.md

Contestants, all on the same MNIST batches (corebp's in-memory source, shuffled per epoch):
  corebp          the mnist-784-100-10 recipe's own loop, `Trainer.train_epoch` (explicit
                  backward, corebp's SGD, loss and accuracy metrics on), autograd check off;
  torch_autograd  the same network as torch.nn.Sequential + torch.optim.SGD + loss.backward(),
                  the same weights, loss and on-device loss/accuracy tallies;
  floor           the same matrix products and element-wise ops in a bare loop;
                  (for LeNet-5, the row "lenet5" at batch 64: the mnist-lenet5 recipe without
                  its schedule against torch.nn's LeNet + cross-entropy + SGD with momentum,
                  and a bare loop of the same aten forward and backward ops)
  notebook        the notebook's own loop: torchvision's DataLoader with per-sample ToTensor +
                  Normalize, and its tensor code (a bounded number of steps, scaled to an
                  epoch), with the CPU's default handling of subnormal floats as in the
                  notebook; the others flush them to zero, as corebp's trainer does on CPU.

An "epoch" is 60,000 examples; where fewer are timed (large configurations, the notebook),
the time is scaled. Each figure is the median of `--repeats` timed runs after a warm-up,
the contestants interleaved so that machine noise falls on all of them alike; a target's
ratio is the median of the per-repeat ratios (every run is kept in the JSON). Peak memory
is how far one steady-state epoch raises the peak above the memory in use before it: the
process's resident set on CPU (a fresh subprocess per contestant, glibc mapping every large
block so that freed tensors leave the resident set), torch's peak allocation on CUDA.
Compare the ratios, not the seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import report
import torch
from torch import Tensor

from corebp.recipe import load_recipe
from corebp.training.trainer import Trainer

EPOCH = 60_000
LR = 0.1
NOTEBOOK = (32, 100)
#: (batch, hidden) pairs: the notebook's, then how cost grows with batch and width.
LENET = (64, "lenet5")
CONFIGS: list[tuple[int, int | str]] = [
    (32, 100), (1024, 100), (32, 1600), (1024, 1024), (1024, 1600), LENET,
]  # fmt: skip
#: The configurations the acceptance targets are about: always timed over whole epochs
#: (LeNet-5, ~40× the notebook network's work per example, over 12,000 images).
ACCEPTANCE: list[tuple[int, int | str]] = [(32, 100), (1024, 1024), LENET]
#: Acceptance targets, as (description, contestant, peer, config, largest allowed ratio).
TARGETS = [
    ("corebp / torch_autograd at batch 32", "corebp", "torch_autograd", (32, 100), 0.6),
    ("corebp / floor at batch 32", "corebp", "floor", (32, 100), 1.5),
    ("corebp / torch_autograd at batch 1024, hidden 1024", "corebp", "torch_autograd",
     (1024, 1024), 1.05),
    ("corebp / notebook at batch 32", "corebp", "notebook", (32, 100), 1 / 20),
    ("corebp / torch_autograd for LeNet-5 at batch 64", "corebp", "torch_autograd", LENET, 1.0),
]  # fmt: skip
#: Peak-memory targets: (description, config, largest allowed corebp / torch_autograd ratio).
MEMORY_TARGETS = [
    ("corebp / torch_autograd peak memory at batch 1024", (1024, 1024), 1.0),
    ("corebp / torch_autograd peak memory for LeNet-5 at batch 64", LENET, 1.0),
]

Loop = Callable[[], None]


# -- the contestants ------------------------------------------------------------------------
def make_trainer(batch: int, hidden: int | str, examples: int, device: str) -> Trainer:
    """The notebook recipe at another batch size / width (or mnist-lenet5), on `examples` images."""
    if hidden == LENET[1]:
        overrides = [f"data.batch_size={batch}", f"train.device={device}", "schedule=null"]
        overrides += ["checks.autograd=null", "output.progress=log"]
        if examples < EPOCH:
            overrides.append(f"data.validation_split={1 - examples / EPOCH}")
        return Trainer(load_recipe("mnist-lenet5", overrides))
    overrides = [
        f"data.batch_size={batch}",
        f"model.0.out_features={hidden}",
        f"model.2.in_features={hidden}",
        f"train.device={device}",
        "checks.autograd=null",
        "output.progress=log",
    ]
    if examples < EPOCH:  # hold the rest out: the training split is then `examples` long
        overrides.append(f"data.validation_split={1 - examples / EPOCH}")
    return Trainer(load_recipe("mnist-784-100-10", overrides))


def batches(trainer: Trainer) -> Iterator[tuple[Tensor, Tensor]]:
    d = trainer.recipe.data
    shuffle = trainer.parts.streams.shuffle
    return trainer.data.batches(
        "train", d.batch_size, shuffle=True, drop_last=False, generator=shuffle
    )


def corebp_loop(trainer: Trainer) -> Loop:
    epochs = iter(range(10**9))
    return lambda: trainer.train_epoch(next(epochs))


def torch_loop(trainer: Trainer) -> Loop:
    """torch.nn + autograd + torch.optim: what a user would write instead."""
    if _is_lenet(trainer):
        return lenet_torch_loop(trainer)
    nn = torch.nn
    w1, w2 = (p.detach().clone() for p in trainer.model.params.values())
    hidden = w1.shape[1]
    model = nn.Sequential(
        nn.Linear(784, hidden, bias=False), nn.Sigmoid(), nn.Linear(hidden, 10, bias=False),
        nn.Sigmoid(),
    ).to(w1.device)  # fmt: skip
    with torch.no_grad():
        model[0].weight.copy_(w1.t())
        model[2].weight.copy_(w2.t())
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    tally = _Tally(w1.device)

    def epoch() -> None:
        for x, y in batches(trainer):
            out = model(x)
            loss = 0.5 * (out - nn.functional.one_hot(y, 10).to(out.dtype)).pow(2).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            tally.add(out.detach(), y, loss.detach())
        tally.read()

    return epoch


def floor_loop(trainer: Trainer) -> Loop:
    """The same products and element-wise ops with nothing around them."""
    if _is_lenet(trainer):
        return lenet_floor_loop(trainer)
    w1, w2 = (p.detach().clone() for p in trainer.model.params.values())
    eye = torch.eye(10, dtype=w1.dtype, device=w1.device)
    tally = _Tally(w1.device)

    def epoch() -> None:
        for x, y in batches(trainer):
            h = torch.sigmoid(x.mm(w1))
            out = torch.sigmoid(h.mm(w2))
            diff = out - eye[y]
            loss = diff.square().sum().mul_(0.5)
            g2 = diff * out * (1 - out)
            g1 = g2.mm(w2.t()) * h * (1 - h)
            w2.add_(h.t().mm(g2), alpha=-LR)
            w1.add_(x.t().mm(g1), alpha=-LR)
            tally.add(out, y, loss)
        tally.read()

    return epoch


def _is_lenet(trainer: Trainer) -> bool:
    return trainer.name == "mnist-lenet5"


def lenet_torch_loop(trainer: Trainer) -> Loop:
    """LeNet-5 as torch.nn modules with the recipe's weights, cross-entropy, torch.optim.SGD."""
    nn = torch.nn
    p = {k: v.detach().clone() for k, v in trainer.model.params.items()}
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(16, 120, 5), nn.ReLU(), nn.Flatten(), nn.Linear(120, 84),
        nn.ReLU(), nn.Linear(84, 10),
    ).to(device=p["0.W"].device, dtype=p["0.W"].dtype)  # fmt: skip
    with torch.no_grad():
        for i in (0, 3, 6, 9, 11):
            w = p[f"{i}.W"]
            model[i].weight.copy_(w if w.dim() == 4 else w.t())  # Linear's W is (in, out)
            model[i].bias.copy_(p[f"{i}.b"])
    optimizer = torch.optim.SGD(model.parameters(), lr=trainer.optimizer.lr, momentum=0.9)
    tally = _Tally(p["0.W"].device)

    def epoch() -> None:
        for x, y in batches(trainer):
            out = model(x)
            loss = nn.functional.cross_entropy(out, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            tally.add(out.detach(), y, loss.detach() * y.shape[0])
        tally.read()

    return epoch


def lenet_floor_loop(trainer: Trainer) -> Loop:
    """LeNet-5's aten forward and backward ops and a momentum update, in a bare loop."""
    F, aten = torch.nn.functional, torch.ops.aten
    relu_backward = aten.threshold_backward
    p = [v.detach().clone() for v in trainer.model.params.values()]  # W, b of 0, 3, 6, 9, 11
    buffers = [torch.zeros_like(v) for v in p]
    lr, eye = trainer.optimizer.lr, torch.eye(10, dtype=p[0].dtype, device=p[0].device)
    tally = _Tally(p[0].device)

    def conv_backward(g: Tensor, x: Tensor, w: Tensor, dx: bool) -> tuple[Tensor, Tensor, Tensor]:
        return aten.convolution_backward(
            g, x, w, [w.shape[0]], [1, 1], [0, 0], [1, 1], False, [0, 0], 1, [dx, True, True]
        )

    def epoch() -> None:
        for x, y in batches(trainer):
            a1 = torch.relu(F.conv2d(x, p[0], p[1]))
            m1, i1 = aten.max_pool2d_with_indices(a1, [2, 2], [2, 2])
            a2 = torch.relu(F.conv2d(m1, p[2], p[3]))
            m2, i2 = aten.max_pool2d_with_indices(a2, [2, 2], [2, 2])
            a3 = torch.relu(F.conv2d(m2, p[4], p[5]))
            h3 = a3.flatten(1)
            a4 = torch.relu(torch.addmm(p[7], h3, p[6]))
            out = torch.addmm(p[9], a4, p[8])
            prob = torch.softmax(out, 1)
            loss = -(prob[torch.arange(len(y)), y].log().sum())
            g = (prob - eye[y]).div_(len(y))
            grads = [None] * 10
            grads[8], grads[9] = a4.t().mm(g), g.sum(0)
            g = relu_backward(g.mm(p[8].t()), a4, 0)
            grads[6], grads[7] = h3.t().mm(g), g.sum(0)
            g = relu_backward(g.mm(p[6].t()).view_as(a3), a3, 0)
            g, grads[4], grads[5] = conv_backward(g, m2, p[4], True)
            g = aten.max_pool2d_with_indices_backward(
                g, a2, [2, 2], [2, 2], [0, 0], [1, 1], False, i2
            )
            g, grads[2], grads[3] = conv_backward(relu_backward(g, a2, 0), m1, p[2], True)
            g = aten.max_pool2d_with_indices_backward(
                g, a1, [2, 2], [2, 2], [0, 0], [1, 1], False, i1
            )
            _, grads[0], grads[1] = conv_backward(relu_backward(g, a1, 0), x, p[0], False)
            for w, b, d in zip(p, buffers, grads, strict=True):
                w.add_(b.mul_(0.9).add_(d), alpha=-lr)
            tally.add(out, y, loss)
        tally.read()

    return epoch


def notebook_loop(trainer: Trainer, steps: int) -> Loop:
    """The notebook's training loop as written, for its first `steps` batches of 32.

    Its DataLoader with per-sample transforms, its sigmoid and one-hot helpers, its loss,
    backward, update, running accuracy and its print every 200 batches (sent to a buffer).
    """
    from torchvision import datasets, transforms

    root = trainer.data.root  # the MNIST files corebp verified (<root>/MNIST/raw)
    dataset = datasets.MNIST(
        root, train=True, download=False,
        transform=transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
        ),
    )  # fmt: skip
    train_loader = torch.utils.data.DataLoader(dataset, batch_size=32, shuffle=True)
    W_1, W_2 = (p.detach().clone().cpu() for p in trainer.model.params.values())
    learning_rate = LR

    def sigmoid(x: Tensor) -> Tensor:
        return 1 / torch.exp(x.mul(-1)).add(1)

    def sigmoid_diff(x: Tensor) -> Tensor:
        return torch.mul(sigmoid(x), sigmoid(x).mul(-1).add(1))

    def one_hot(data: Tensor, max_value: int) -> Tensor:
        return torch.eye(max_value).index_select(0, data)

    def compute_accuracy(output: Tensor, target: Tensor) -> Tensor:
        _, pred = output.topk(1, 1)
        correct = pred.t().eq(target.view(1, -1).expand_as(pred.t()))
        return correct[:1].view(-1).float().sum(0).mul_(100.0 / target.size(0))

    def epoch() -> None:
        torch.set_flush_denormal(False)  # the notebook runs with the CPU's default
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                notebook_steps()
        finally:
            torch.set_flush_denormal(True)

    def notebook_steps() -> None:
        acc_sum, acc_count = 0.0, 0  # its Metrics class: a running average of batch accuracy
        for batch_idx, (x_batch, y_batch) in enumerate(train_loader):
            if batch_idx == steps:
                break
            x_batch = x_batch.view(-1, 784)
            hidden_state_output = sigmoid(torch.mm(x_batch, W_1))
            output = sigmoid(torch.mm(hidden_state_output, W_2))
            y_batch_onehot = one_hot(y_batch, 10)
            loss = (output - y_batch_onehot).pow(2).sum() * 0.5
            diff = output - y_batch_onehot
            grad_w2 = torch.mm(hidden_state_output.t(), torch.mul(diff, sigmoid_diff(output)))
            grad_w1 = torch.mm(
                x_batch.t(),
                torch.mul(torch.mm(torch.mul(diff, sigmoid_diff(output)), W_2.t()),
                          sigmoid_diff(hidden_state_output)),
            )  # fmt: skip
            W_1.sub_(learning_rate * grad_w1)
            W_2.sub_(learning_rate * grad_w2)
            acc_sum, acc_count = acc_sum + compute_accuracy(output, y_batch), acc_count + 1
            if batch_idx % 200 == 0:
                print(f"Epoch: 0 \t|\t loss: {loss} \t|\t accuracy: {acc_sum / acc_count}")

    return epoch


class _Tally:
    """Loss sum and correct count on the device, read once an epoch (as corebp's metrics)."""

    def __init__(self, device: torch.device) -> None:
        self.loss = torch.zeros((), dtype=torch.float64, device=device)
        self.correct = torch.zeros((), dtype=torch.int64, device=device)

    def add(self, out: Tensor, y: Tensor, loss: Tensor) -> None:
        self.loss += loss
        self.correct += (out.argmax(1) == y).sum()

    def read(self) -> None:
        self.loss.item(), self.correct.item()
        self.loss.zero_(), self.correct.zero_()


# -- measuring ------------------------------------------------------------------------------
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(loop: Loop, device: torch.device) -> float:
    sync(device)
    start = time.perf_counter()
    loop()
    sync(device)
    return time.perf_counter() - start


def examples_for(batch: int, hidden: int | str, quick: bool) -> int:
    """How many training images to time: a whole epoch unless that would take too long."""
    whole = (batch, hidden) in ACCEPTANCE[:2] or (isinstance(hidden, int) and hidden <= 100)
    n = EPOCH if whole else 12_000
    return min(n, 6_000) if quick else n


def measure_speed(
    batch: int, hidden: int | str, device: str, repeats: int, quick: bool
) -> dict[str, list[float]]:
    """Seconds per epoch of every run of each contestant, the contestants interleaved."""
    examples = examples_for(batch, hidden, quick)
    trainer = make_trainer(batch, hidden, examples, device)
    loops = {
        "corebp": corebp_loop(trainer),
        "torch_autograd": torch_loop(trainer),
        "floor": floor_loop(trainer),
    }
    scale = {name: EPOCH / trainer.data.num_examples("train") for name in loops}
    if (batch, hidden) == NOTEBOOK:
        steps = 100 if quick else 400
        loops["notebook"] = notebook_loop(trainer, steps)
        scale["notebook"] = EPOCH / (32 * steps)
    for loop in loops.values():  # warm-up: allocator, kernels, page faults
        loop()
    times: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(repeats):
        for name, loop in loops.items():
            if name == "notebook" and len(times[name]) >= 2:
                continue  # slow, and noise is small against its size
            times[name].append(timed(loop, trainer.device) * scale[name])
    return times


def measure_memory(contestant: str, batch: int, hidden: int | str, device: str) -> int:
    """Peak memory growth of one epoch, in a fresh subprocess so peaks do not mix."""
    args = [sys.executable, __file__, "--memory-child", contestant, str(batch), str(hidden)]
    # A fixed mmap threshold makes glibc map every block of 64 KiB or more on allocation and
    # unmap it on free, so the resident set follows the live tensors instead of what the
    # heap kept from earlier steps (on CUDA, torch's own statistics are used instead).
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    out = subprocess.run(
        [*args, "--device", device], check=True, capture_output=True, text=True, env=env
    ).stdout
    return int(out.strip().splitlines()[-1])


def memory_child(contestant: str, batch: int, hidden: int | str, device: str) -> None:
    trainer = make_trainer(batch, hidden, examples_for(batch, hidden, quick=True), device)
    loop = {"corebp": corebp_loop, "torch_autograd": torch_loop}[contestant](trainer)
    loop()  # warm-up: the peak of a steady-state epoch is what is compared
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        loop()
        torch.cuda.synchronize()
        print(torch.cuda.max_memory_allocated() - base)
        return
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak resident set (Linux)
    base = _status_kib("VmRSS")
    loop()
    print((_status_kib("VmHWM") - base) * 1024)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


# -- reporting ------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict:
    device = torch.device(
        "cuda" if args.device == "auto" and torch.cuda.is_available() else
        ("cpu" if args.device == "auto" else args.device)
    )  # fmt: skip
    configs = []
    chosen = [CONFIGS[i] for i in (0, 1, 3, 5)] if args.quick else CONFIGS
    for batch, hidden in chosen:
        print(f"batch {batch}, hidden {hidden} ...", file=sys.stderr, flush=True)
        entry: dict = {"batch": batch, "hidden": hidden}
        runs = measure_speed(batch, hidden, str(device), args.repeats, args.quick)
        entry["seconds_per_epoch"] = {name: statistics.median(t) for name, t in runs.items()}
        entry["runs"] = runs
        if (batch, hidden) in ACCEPTANCE:
            entry["peak_memory_bytes"] = {
                c: measure_memory(c, batch, hidden, str(device))
                for c in ("corebp", "torch_autograd")
            }
        configs.append(entry)
    result = {
        "configs": configs,
        "targets": check_targets(configs),
        "environment": {
            "device": str(device),
            **report.environment(),
            "torch_threads": torch.get_num_threads(),
            "torch_interop_threads": torch.get_num_interop_threads(),
            "flush_denormal": True,
            "repeats": args.repeats,
            "quick": args.quick,
        },
    }
    return result


def check_targets(configs: list[dict]) -> list[dict]:
    """Each speed ratio is the median of the per-repeat ratios of runs made back to back,
    which cancels the machine's slow drifts better than a ratio of two medians."""
    by = {(c["batch"], c["hidden"]): c["runs"] for c in configs}
    out = []
    for text, a, b, config, limit in TARGETS:
        pairs = zip(by[config][a], by[config][b], strict=False)
        ratio = statistics.median(x / y for x, y in pairs)
        out.append({"target": text, "ratio": ratio, "limit": limit, "met": ratio <= limit})
    for text, config, limit in MEMORY_TARGETS:
        mem = next(c for c in configs if (c["batch"], c["hidden"]) == config)
        peak = mem["peak_memory_bytes"]
        ratio = peak["corebp"] / max(peak["torch_autograd"], 1)
        out.append({"target": text, "ratio": ratio, "limit": limit, "met": ratio <= limit})
    return out


def markdown(result: dict) -> str:
    """The tables docs/performance.md shows, made from the JSON alone."""
    names = ["corebp", "torch_autograd", "floor", "notebook"]
    lines = [
        "| batch | hidden | corebp s/epoch | torch autograd | floor | notebook "
        "| corebp ÷ torch | corebp ÷ floor | peak MiB corebp / torch |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in result["configs"]:
        s = c["seconds_per_epoch"]
        cells = [f"{s[n]:.3f}" if n in s else "–" for n in names]
        mem = c.get("peak_memory_bytes")
        peak = f"{mem['corebp'] / 2**20:.1f} / {mem['torch_autograd'] / 2**20:.1f}" if mem else "–"
        lines.append(
            f"| {c['batch']} | {c['hidden']} | {' | '.join(cells)} "
            f"| {s['corebp'] / s['torch_autograd']:.2f} | {s['corebp'] / s['floor']:.2f} | {peak} |"
        )
    lines += ["", *report.targets_table(result["targets"])]
    env = result["environment"]
    lines += [
        "",
        f"Device {env['device']}, torch {env['torch']}, corebp {env['corebp']}, "
        f"{env['torch_threads']} torch threads on {env['cpu_count']} CPUs, "
        f"median of {env['repeats']} runs{' (quick)' if env['quick'] else ''}.",
    ]
    return "\n".join(lines)


BEGIN, END = report.begin("benchmarks/results.json"), report.END


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    report.add_options(parser)
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per figure")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.add_argument("--quick", action="store_true", help="fewer steps and configurations")
    parser.add_argument("--memory-child", nargs=3, metavar=("WHO", "BATCH", "HIDDEN"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    torch.set_flush_denormal(True)  # as the trainer does on CPU; applies to every contestant
    if args.memory_child:
        who, batch, hidden = args.memory_child
        memory_child(who, int(batch), hidden if hidden == LENET[1] else int(hidden), args.device)
        return
    report.report(args, lambda: run(args), markdown, BEGIN)


if __name__ == "__main__":
    main()
