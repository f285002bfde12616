"""Running a recipe end to end: build and check everything, then train into a run directory."""

from __future__ import annotations

import contextlib
import json
import shlex
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from corebp.errors import ConfigError, DataError, Diverged
from corebp.hookspecs import hookimpl
from corebp.plugins import Registry, registry
from corebp.recipe import load_recipe
from corebp.recipe.load import LoadedRecipe
from corebp.training import checkpoint
from corebp.training.listeners import Checkpoints, Interrupted
from corebp.training.plots import run_figures, save
from corebp.training.rundir import RunDir, provenance
from corebp.training.trainer import Trainer

if TYPE_CHECKING:
    from corebp.training.distributed import DataParallel


def run_recipe(
    loaded: LoadedRecipe,
    output_dir: Path | None = None,
    progress: str | None = None,
    reg: Registry | None = None,
    parallel: DataParallel | None = None,
    on_start: OnStart | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Train `loaded` and write its run directory; returns (directory, summary).

    Everything that can be wrong with the recipe, its components or its data fails before
    the directory is created. See `train_into` for what is written while training.
    In a data-parallel run (`parallel`) only rank 0 creates, locks and writes the directory;
    every rank returns its path.
    """
    reg = registry() if reg is None else reg
    trainer = Trainer(loaded, reg, progress=progress, parallel=parallel)
    out = loaded.recipe.output
    path = output_dir or (Path(out.dir) if out.dir else None)
    run = _open(lambda: RunDir.create(path, loaded.name), parallel)
    _write_recipe(run, loaded)
    run.json(
        "provenance.json",
        provenance(
            recipe=loaded.name,
            path=loaded.path,
            overrides=loaded.overrides,
            seed=loaded.recipe.train.seed,
            device=trainer.device,
            dtype=loaded.recipe.train.dtype,
            plugins=reg.plugins,
            data=trainer.data.provenance(),
            processes=parallel.describe() if parallel is not None else {"world_size": 1},
        ),
    )
    preprocessing = trainer.data.preprocessing()
    if preprocessing is not None:
        run.json("preprocessing.json", preprocessing.model_dump(mode="json"))
    try:
        return run.path, train_into(run, trainer, on_start)
    finally:
        run.close()


def resume_run(
    path: Path,
    overrides: Sequence[str] = (),
    progress: str | None = None,
    reg: Registry | None = None,
    parallel: DataParallel | None = None,
    on_start: OnStart | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Continue the run in `path` from its checkpoint.pt, exactly as if it had not stopped.

    `overrides` may only extend `train.epochs` or change `output.*` (not `output.dir`);
    anything else is refused naming the key. Returns (directory, summary). Data-parallel
    (`parallel`), every rank reads the checkpoint and only rank 0 locks and writes `path`.
    """
    reg = registry() if reg is None else reg
    loaded = load_run_recipe(path, overrides, reg)
    state = checkpoint.load(path / "checkpoint.pt")
    check_trained_with(loaded, state, path / "recipe.yaml")
    if loaded.recipe.train.epochs < state["epoch"]:
        raise ConfigError(
            f"train.epochs={loaded.recipe.train.epochs}: the run has already completed "
            f"{state['epoch']} epochs; expected at least that many."
        )
    trainer = Trainer(loaded, reg, progress=progress, parallel=parallel)
    checkpoint.restore(trainer, state)
    run = _open(lambda: RunDir(path), parallel)
    _write_recipe(run, loaded)
    try:
        return run.path, train_into(run, trainer, on_start)
    finally:
        run.close()


#: Called with the run directory and the Trainer (restored, when resuming) right before
#: training starts, in the process that writes the directory: what `corebp run` and
#: `corebp resume` tell the user first.
OnStart = Callable[[Path, Trainer], object]


def train_into(run: RunDir, trainer: Trainer, on_start: OnStart | None = None) -> dict[str, Any]:
    """Train `trainer` (from where it stands) and keep `run` up to date; `on_start` first.

    summary.json says `"status": "running"` from the start, then `completed`; when training
    stops early it is still written, with `interrupted` (a SIGINT/SIGTERM: after the current
    step, a checkpoint is written first), `diverged` (a non-finite loss; the checkpoint
    before it is kept) or `failed`, the `error` and the epochs completed, and the error is
    re-raised. checkpoint.pt is replaced after every epoch and every
    `output.checkpoint_every` steps (unless `output.checkpoint` is false).
    """
    out = trainer.recipe.output
    started = time.perf_counter()

    def status(name: str, **extra: Any) -> None:
        summary = trainer.summary(time.perf_counter() - started)
        run.json("summary.json", {"status": name, **extra} | summary)

    def save() -> None:
        if out.checkpoint:  # data-parallel: every rank captures, only rank 0 writes
            run.checkpoint("checkpoint.pt", checkpoint.capture(trainer))

    def epoch_end() -> None:
        run.jsonl("metrics.jsonl", metric_rows(trainer))
        status("running")

    # Both trylast, which pluggy calls in the order they were registered: after each epoch,
    # metrics.jsonl and summary.json are written before the checkpoint that holds the same
    # epochs (a resume from it then finds them).
    every = out.checkpoint_every or 0
    trainer.add_listener(EpochFiles(epoch_end), name="core/run-files")
    trainer.add_listener(Checkpoints(trainer.guard, every, save), name="core/checkpoints")
    for logger in trainer.loggers:
        logger.open(run.path)
    status("running")
    if on_start is not None and (trainer.parallel is None or trainer.parallel.writes):
        on_start(run.path, trainer)
    resume = f"corebp resume {shlex.quote(str(run.path))}"
    try:
        with stop_on_signals(trainer):
            summary = trainer.fit()
    except Interrupted as e:
        run.jsonl("metrics.jsonl", metric_rows(trainer))
        save()
        name = signal.Signals(e.signum).name
        status("interrupted", error=f"stopped by {name}", resume=resume)
        e.args = (
            f"stopped by {name} after step {trainer.step}; "
            + (
                f"checkpoint {run.path / 'checkpoint.pt'} written; continue with: {resume}"
                if out.checkpoint
                else "no checkpoint (output.checkpoint is false)"
            ),
        )
        raise
    except Diverged as e:
        status("diverged", error=str(e), step=e.step)
        raise
    except KeyboardInterrupt:
        status("interrupted", error="stopped at once by a second SIGINT", resume=resume)
        stopped = Interrupted(signal.SIGINT)
        stopped.args = (
            f"stopped at once by a second SIGINT; the last checkpoint stays; continue with: "
            f"{resume}",
        )
        raise stopped from None
    except Exception as e:
        with contextlib.suppress(DataError):  # a full disk may refuse this too: e is the news
            status("failed", error=f"{type(e).__name__}: {e}")
        raise
    finally:
        for logger in trainer.loggers:
            logger.close()
    summary = {"status": "completed"} | summary
    if out.plots:
        _draw(run, trainer)
    run.json("summary.json", summary)
    return summary


class EpochFiles:
    """After each epoch (once every other listener added its metrics), `write()`."""

    def __init__(self, write: Callable[[], Any]) -> None:
        self.write = write

    @hookimpl(trylast=True)
    def corebp_epoch_end(self) -> None:
        self.write()


def metric_rows(trainer: Trainer) -> list[dict[str, Any]]:
    """The rows of metrics.jsonl: each completed epoch's row after the step rows
    (`trainer.view.records`, such as the alignment diagnostics) of its steps."""
    rows: list[dict[str, Any]] = []
    records = iter(trainer.view.records)
    record = next(records, None)
    for row in trainer.history:
        end = row["epoch"] * trainer.steps_per_epoch
        while record is not None and record["step"] < end:
            rows.append(record)
            record = next(records, None)
        rows.append(row)
    return rows


@contextmanager
def stop_on_signals(trainer: Trainer) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM ask `trainer` to stop after the current step
    (`Interrupted`); a second one stops at once (KeyboardInterrupt, or SIGTERM's default).
    The previous handlers are restored afterwards. Outside the main thread: no change."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum: int, frame: object) -> None:
        trainer.guard.stop_signal = signum
        # Data-parallel, torchrun answers a Ctrl-C with a SIGTERM to every rank: only the
        # same signal again stops at once, so that the ranks can agree to stop and save.
        if trainer.parallel is None or signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if trainer.parallel is None or signum == signal.SIGTERM:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def load_run_recipe(
    path: Path, overrides: Sequence[str], reg: Registry | None = None
) -> LoadedRecipe:
    """The recipe a run directory was started with, with resume `overrides` applied; a change
    to anything but `train.epochs` and `output.*` (except `output.dir`) is refused."""
    if not path.is_dir():
        raise ConfigError(
            f"run directory {str(path)!r} does not exist or is not a folder; give the folder "
            "of the run to continue (as printed by `corebp run`)."
        )
    recorded = path / "recipe.yaml"
    if not recorded.is_file():
        raise ConfigError(f"{recorded}: missing; {str(path)!r} is not a corebp run directory.")
    before = load_recipe(str(recorded), (), reg)
    after = load_recipe(str(recorded), overrides, reg)
    old, new = _flat(before.resolved()), _flat(after.resolved())
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    refused = [k for k in changed if not (k == "train.epochs" or k.startswith("output."))]
    refused += [k for k in changed if k == "output.dir"]
    if refused:
        raise ConfigError(
            f"{refused[0]}: cannot change when resuming (was {old.get(refused[0])!r}, override "
            f"gives {new.get(refused[0])!r}); a resumed run continues the same recipe, and only "
            "train.epochs and output options may change. Start a new run to change it."
        )
    name = recorded_name(path) or before.name
    return LoadedRecipe(name, after.recipe, recorded, after.overrides)


def check_trained_with(loaded: LoadedRecipe, state: dict[str, Any], where: Path) -> None:
    """Refuse a run directory whose recipe.yaml (`loaded`, at `where`) no longer says what its
    checkpoint (`state`) was trained with, naming the first difference. What a resume may
    change (`train.epochs`, `output.*`) and what `loaded.overrides` set may differ."""
    trained = state.get("recipe")
    if not isinstance(trained, dict):
        raise DataError(
            f"{where.with_name('checkpoint.pt')}: holds no copy of the recipe it was trained "
            "with; expected the checkpoint.pt a run writes. Fix: re-run the recipe."
        )
    set_here = [o.partition("=")[0].strip().lstrip("+~") for o in loaded.overrides]
    old, new = _flat(trained), _flat(loaded.resolved())
    for key in sorted(old.keys() | new.keys()):
        free = key == "train.epochs" or key.startswith("output.")
        free = free or any(key == k or key.startswith(f"{k}.") for k in set_here)
        if old.get(key) != new.get(key) and not free:
            raise ConfigError(
                f"{where}: {key} is {new.get(key)!r} but the checkpoint beside it was trained "
                f"with {old.get(key)!r}: the recipe was edited after training. Fix: put back "
                f"{key}: {old.get(key)!r} (or a copy of the recipe the run wrote), or start a "
                "new run with `corebp run`."
            )


def recorded_name(path: Path) -> str | None:
    """The recipe name a run directory's provenance.json records; None when there is no
    such file, a DataError naming it when it is damaged."""
    file = path / "provenance.json"
    if not file.is_file():
        return None
    try:
        name = json.loads(file.read_text(encoding="utf-8"))["recipe"]
        if isinstance(name, str):
            return name
        reason = f"its recipe is a {type(name).__name__}"
    except (OSError, ValueError, KeyError, TypeError) as e:
        reason = f"{type(e).__name__}: {(str(e).splitlines() or [''])[0][:200]}"
    raise DataError(
        f"{file}: damaged ({reason}); expected the JSON object `corebp run` writes, with the "
        "recipe's name under \"recipe\". Fix: restore it, or delete it (the folder's name is "
        "then used)."
    )


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    """{"a.b.0.c": value} for nested dicts and lists."""
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = enumerate(data)  # type: ignore[assignment]
    else:
        return {prefix: data}
    flat: dict[str, Any] = {}
    for k, v in items:
        flat |= _flat(v, f"{prefix}{k}" if not prefix else f"{prefix}.{k}")
    if not flat:
        flat[prefix] = data
    return flat


def _open(open_: Callable[[], RunDir], parallel: DataParallel | None) -> RunDir:
    """`open_()`, in a data-parallel run on rank 0 only (the others get its path)."""
    return open_() if parallel is None else parallel.run_dir(open_)


def _write_recipe(run: RunDir, loaded: LoadedRecipe) -> None:
    header = f"# {loaded.name}, resolved (overrides: {' '.join(loaded.overrides) or 'none'})\n"
    run.yaml("recipe.yaml", loaded.resolved(), header)


def _draw(run: RunDir, trainer: Trainer) -> None:
    for name, figure in run_figures(trainer).items():
        run.picture(name, partial(save, figure()))
