"""Data-parallel training on torch.distributed, for runs launched by torchrun.

torchrun starts the same `corebp run` in N processes, the *ranks*; `launched(recipe)` joins
them into a process group when there is more than one, and the Trainer then takes a
`DataParallel`:

- every rank builds the model from the same seed; rank 0's parameters are broadcast and
  compared by checksum, so all ranks start from identical weights;
- every rank draws the same permutation and trains on its slice of each global batch
  (`DataSource.batches(..., shard=(rank, world))`);
- after the backward, one all-reduce (SUM) over one flat buffer that holds every gradient and
  the rank's example count nᵣ. Sum losses: the sum is the global gradient. Mean losses: each
  rank adds nᵣ·gᵣ and the result is divided by Σnᵣ, so a ragged last batch is exact
  (ReduceOp.AVG is not used: gloo gained it only recently, and it weights ranks equally);
- only rank 0 writes the run directory, prints and evaluates; the others learn its path.

The all-reduce listens to `corebp_after_backward` as an ordinary hook registered after every
plugin's: `tryfirst` hooks (the autograd check) see this rank's own gradients, all others the
global ones. docs/distributed.md says what is exact and what is not.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor

from corebp.contracts.layer import Layer
from corebp.contracts.learning_rule import LearningRule
from corebp.contracts.loss import Loss
from corebp.errors import ConfigError, CorebpError
from corebp.hookspecs import TrainingRun, hookimpl
from corebp.layers.sequential import Sequential
from corebp.recipe.schema import DistributedSpec, Recipe
from corebp.training.rundir import RunDir

T = TypeVar("T")


class RankMismatch(CorebpError, RuntimeError):
    """The ranks of a data-parallel run do not hold the same recipe or weights."""


class RankLost(CorebpError, RuntimeError):
    """A collective failed: another process of the run died, or hung past the timeout."""


def world_size() -> int:
    """How many processes torchrun started (its WORLD_SIZE); 1 without torchrun."""
    raw = os.environ.get("WORLD_SIZE", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(
            f"WORLD_SIZE={raw!r}; expected a positive whole number (torchrun sets it: launch "
            "with `torchrun --nproc_per_node=N -m corebp run RECIPE`)."
        )
    return int(raw)


def problems(recipe: Recipe, world: int) -> list[str]:
    """What in `recipe` cannot run data-parallel over `world` processes; [] if all can."""
    check = recipe.checks.autograd
    if world > 1 and check is not None and check.twin:
        return [
            f"checks.autograd.twin: true, but this run is data-parallel over {world} "
            "processes and the torch twin trains in one; set checks.autograd.twin=false (the "
            "autograd check itself runs on every rank), or run without torchrun."
        ]
    if world > 1 and recipe.checks.alignment is not None:
        return [
            f"checks.alignment: set, but this run is data-parallel over {world} processes, "
            "and the diagnostics measure one process's backward on one whole batch; set "
            "checks.alignment=null, or run without torchrun to measure them."
        ]
    return []


def resolve_backend(spec: DistributedSpec, device: torch.device) -> str:
    """`auto` is nccl when training on CUDA, else gloo; nccl needs CUDA."""
    if spec.backend == "auto":
        return "nccl" if device.type == "cuda" else "gloo"
    if spec.backend == "nccl" and device.type != "cuda":
        raise ConfigError(
            f"train.distributed.backend: 'nccl' reduces CUDA tensors only, but the run trains "
            f"on {device.type}; expected gloo or auto on CPU (override with "
            "train.distributed.backend=auto)."
        )
    return spec.backend


@contextmanager
def launched(recipe: Recipe, device: torch.device) -> Iterator[DataParallel | None]:
    """Inside the block, the process group of a torchrun launch with more than one process
    (None otherwise: a plain single-process run); left and destroyed afterwards."""
    world = world_size()
    if world == 1:
        yield None
        return
    found = problems(recipe, world)
    if found:
        raise ConfigError(found[0])
    spec = recipe.train.distributed or DistributedSpec()
    backend = resolve_backend(spec, device)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group(backend, timeout=timedelta(seconds=spec.timeout_s))
    try:
        yield DataParallel(backend, device, recipe.train.seed)
    finally:
        dist.destroy_process_group()


class DataParallel:
    """This rank's part in a data-parallel run (the process group is already initialised)."""

    def __init__(self, backend: str, device: torch.device, seed: int) -> None:
        self.backend = backend
        self.device = device
        self.seed = seed
        self.rank = dist.get_rank()
        self.world = dist.get_world_size()
        self._flat: Tensor | None = None
        self._mean = False

    @property
    def shard(self) -> tuple[int, int]:
        """(rank, world): which slice of each global batch this rank trains on."""
        return self.rank, self.world

    @property
    def writes(self) -> bool:
        """Whether this rank writes the run directory, prints and evaluates (rank 0 only)."""
        return self.rank == 0

    def describe(self) -> dict[str, Any]:
        """What provenance.json records about the run's processes."""
        return {"world_size": self.world, "backend": self.backend}

    # -- the start -----------------------------------------------------------------------
    def attach(
        self, recipe: Recipe, model: Sequential, loss: Loss, rule: LearningRule | None = None
    ) -> None:
        """Check that every rank runs the same recipe, give every rank rank 0's parameters and
        buffers (checked by checksum) and the learning rule's own tensors, give each rank its
        own random streams, and lay every gradient (the rule's stored ones too) into one flat
        buffer."""
        digest = hashlib.sha256(recipe.model_dump_json().encode()).hexdigest()
        digests: list[str | None] = [None] * self.world
        dist.all_gather_object(digests, digest)
        differ = [r for r, d in enumerate(digests) if d != digests[0]]
        if differ:
            raise RankMismatch(
                f"ranks {differ} resolved a different recipe than rank 0; expected every rank "
                "to run the same recipe with the same overrides (launch them with one command)."
            )
        params = list(model.params.values())
        owned = {} if rule is None else rule.params
        tensors = params + list(model.buffers.values()) + list(owned.values())
        for t in tensors:
            dist.broadcast(t, src=0)
        sums = torch.stack([t.detach().double().sum() for t in tensors] or [torch.zeros(())])
        everyone = [torch.empty_like(sums) for _ in range(self.world)]
        dist.all_gather(everyone, sums)
        differ = [r for r, s in enumerate(everyone) if not torch.equal(s, everyone[0])]
        if differ:
            raise RankMismatch(
                f"after the broadcast from rank 0 the parameters or buffers of ranks {differ} "
                "still differ (checksum); expected identical weights on every rank."
            )
        seed_rank(model, self.seed, self.rank)
        grads = reduced_grads(model, rule)
        self._flat = flatten_grads(grads, params[0].dtype if params else torch.float32)
        self._mean = loss.reduction != "sum"

    # -- every step ----------------------------------------------------------------------
    @hookimpl
    def corebp_after_backward(self, run: TrainingRun, x: Tensor, y: Tensor) -> None:
        """Replace this rank's gradients by the global batch's."""
        try:
            self.all_reduce(y.shape[0])
        except RuntimeError as e:  # torch.distributed's errors, DistBackendError included
            raise RankLost(
                f"step {run.step}: the gradient all-reduce over {self.world} processes failed "
                f"({type(e).__name__}: {str(e).splitlines()[0]}); another process of this run "
                "stopped, or hung past train.distributed.timeout_s. torchrun's report names the "
                "rank that failed first."
            ) from e

    def all_reduce(self, examples: int) -> None:
        """One SUM all-reduce of the flat gradient buffer; mean losses weighted by examples."""
        flat = self._flat
        if flat is None:
            raise RuntimeError("DataParallel.all_reduce before attach()")
        grads = flat[:-1]
        if self._mean:
            grads.mul_(examples)
        flat[-1] = examples
        dist.all_reduce(flat)
        if self._mean:
            grads.div_(flat[-1])

    # -- agreeing to stop ----------------------------------------------------------------
    def agree(
        self, step: int, diverged_at: int | None, stop: int | None
    ) -> tuple[int | None, int | None]:
        """One MAX all-reduce at update `step`, where every rank reads its divergence flag: the
        first update whose loss any rank found non-finite, and a stop signal any rank received
        (the largest signal number); None for either when no rank has one."""
        none = -(2**62)
        flags = torch.tensor(
            [none if diverged_at is None else -diverged_at, 0 if stop is None else stop],
            dtype=torch.int64,
            device=self.device,
        )
        try:
            dist.all_reduce(flags, op=dist.ReduceOp.MAX)
        except RuntimeError as e:
            raise RankLost(
                f"step {step}: agreeing on divergence and stop requests over {self.world} "
                f"processes failed ({type(e).__name__}: {str(e).splitlines()[0]}); another "
                "process of this run stopped, or hung past train.distributed.timeout_s."
            ) from e
        first, signum = (int(v) for v in flags.tolist())
        return (None if first == none else -first), (signum or None)

    # -- the run directory ---------------------------------------------------------------
    def run_dir(self, open_: Callable[[], RunDir]) -> RunDir:
        """Rank 0 alone opens (creates, locks) the run directory with `open_()`; every other
        rank gets a stand-in with its path, or rank 0's error."""
        opened: list[RunDir] = []

        def path() -> Path:
            opened.append(open_())
            return opened[0].path

        made = self.from_rank0(path)
        return opened[0] if self.writes else ElsewhereRunDir(made)

    def gather(self, value: T) -> list[T]:
        """Every rank's `value`, in rank order, on every rank (a checkpoint's random streams)."""
        values: list[Any] = [None] * self.world
        dist.all_gather_object(values, value)
        return values

    def from_rank0(self, make: Callable[[], T]) -> T:
        """`make()` run on rank 0, its result given to every rank; a CorebpError it raises is
        raised on every rank."""
        box: list[Any] = [None]
        if self.writes:
            try:
                box[0] = (make(), None)
            except CorebpError as e:
                box[0] = (None, e)
        dist.broadcast_object_list(box, src=0)
        value, error = box[0]
        if error is not None:
            raise error
        return value


class ElsewhereRunDir(RunDir):
    """The run directory as ranks other than 0 see it: rank 0's path; writing does nothing."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def close(self) -> None:
        pass

    def text(self, name: str, content: str) -> Path:
        return self.path / name

    def checkpoint(self, name: str, state: dict[str, Any]) -> Path:
        return self.path / name

    def picture(self, name: str, draw: Callable[[Path], None]) -> Path:
        return self.path / name


def require_shard(batches: Callable[..., Any], world: int, key: str) -> None:
    """A ConfigError unless a data source's `batches` takes `shard`."""
    if "shard" not in inspect.signature(batches).parameters:
        raise ConfigError(
            f"{key}: this data source's batches() takes no `shard`, so it cannot give each of "
            f"the {world} processes its slice of a batch; expected a source that implements "
            "shard=(rank, world) (docs/data.md), or run without torchrun."
        )


def seed_rank(model: Layer, seed: int, rank: int) -> None:
    """Once the model is drawn, give rank `rank` random streams of its own (dropout masks):
    torch's global RNG and every layer's own `generator` are reseeded from (seed, rank).
    Rank 0 keeps the streams a one-process run has."""
    if rank == 0:
        return
    torch.manual_seed(seed * 1_000_003 + rank)
    for layer in _all_layers(model):
        generator = getattr(layer, "generator", None)
        if isinstance(generator, torch.Generator):
            generator.manual_seed(generator.initial_seed() * 1_000_003 + rank)


def _all_layers(layer: Layer) -> Iterator[Layer]:
    """`layer` and every layer inside it, depth first."""
    yield layer
    for inner in getattr(layer, "layers", ()):
        yield from _all_layers(inner)


def reduced_grads(model: Sequential, rule: LearningRule | None) -> dict[str, Tensor]:
    """The gradients the all-reduce sums: the model's, then those the rule stores (a dict),
    named `learning_rule.<name>`. A rule's gradients computed from the model's when read
    (Kolen-Pollack's) are not among them: they follow the model's."""
    stored = rule.grads if rule is not None and isinstance(rule.grads, dict) else {}
    return dict(model.grads) | {f"learning_rule.{k}": g for k, g in stored.items()}


#: Where each gradient starts in the flat buffer: a multiple of this many bytes from its start,
#: so each is as aligned as the buffer, which the allocator aligns as any tensor of its own
#: (torch's CPU allocator to 64 bytes, CUDA's caching allocator to 512). A matrix product
#: written into a less aligned view may take another code path of the BLAS and round
#: differently (seen with MKL on an AMD EPYC: 1 ulp in a classifier's dW).
ALIGN_BYTES = 512


def flatten_grads(grads: dict[str, Tensor], dtype: torch.dtype) -> Tensor:
    """One `dtype` buffer holding every gradient in order, each starting ALIGN_BYTES-aligned
    (the gaps stay zero), then one free slot; each gradient tensor becomes a view into it (the
    same tensor object, so whoever holds it — an optimizer, a Sequential's dicts — now reads
    and writes the buffer)."""
    device = next(iter(grads.values())).device if grads else None
    step = ALIGN_BYTES // torch.empty((), dtype=dtype).element_size()
    offsets, end = [], 0
    for g in grads.values():
        offsets.append(end)
        end += -(-g.numel() // step) * step
    flat = torch.zeros(end + 1, dtype=dtype, device=device)
    for g, offset in zip(grads.values(), offsets, strict=True):
        view = flat[offset : offset + g.numel()].view_as(g)
        view.copy_(g)
        g.data = view
    return flat
