"""A corpus of hostile command lines: each exits 2 with one message naming the key or path,
no traceback, nothing left behind, in bounded time and output (acceptance 4).

Every case runs the real `corebp` entry point in-process (`corebp.cli.main.main`); `{r}`
stands for a valid small recipe, `{d}` for the (empty) working directory.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from corebp.cli import main as cli

RECIPE = """\
model:
  - {type: linear, in_features: 2, out_features: 16}
  - {type: relu}
  - {type: dropout, p: 0.2}
  - {type: linear, in_features: 16, out_features: 3}
loss: {type: cross_entropy}
optimizer: {type: sgd, lr: 0.1, momentum: 0.9}
schedule: {type: step, step_size: 1}
data: {source: synthetic, batch_size: 16, args: {kind: spirals, num_classes: 3}}
train: {epochs: 1, seed: 0, device: cpu}
metrics: [loss, accuracy]
checks: {autograd: {every: 10}}
output: {progress: log, plots: false}
"""

TRAIN = "train: {epochs: 1, seed: 0, device: cpu}\n"
# Nine to the fifth elements from a few lines: refused by the alias limit of the YAML loader.
ALIASES = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{k}: &{k} [{', '.join([f'*{p}'] * 9)}]\n" for p, k in zip("abcd", "bcde", strict=True)
)
NUMBERS = [
    "optimizer.lr",
    "optimizer.momentum",
    "data.validation_split",
    "data.args.noise",
    "checks.autograd.rtol",
    "checks.autograd.atol",
    "model.2.p",
]
NON_FINITE = [(f"{key}={v}", key) for key in NUMBERS for v in (".nan", ".inf", "-.inf")]
# Quoted: strings that the arguments' float annotations turn into non-finite numbers.
NON_FINITE += [
    (f"{key}={v}", key)
    for key in ("optimizer.lr", "optimizer.momentum", "data.args.noise", "model.2.p")
    for v in ("'nan'", '"inf"', "'-1e400'")
]

OUT_OF_RANGE = [
    ("train.epochs=0", "train.epochs"),
    ("train.epochs=-3", "train.epochs"),
    ("train.epochs=1e400", "train.epochs"),
    ("data.batch_size=0", "data.batch_size"),
    ("data.batch_size=-1", "data.batch_size"),
    ("data.eval_batch_size=0", "data.eval_batch_size"),
    ("data.validation_split=1", "data.validation_split"),
    ("data.validation_split=-0.1", "data.validation_split"),
    ("train.seed=-1", "train.seed"),
    ("train.seed=18446744073709551616", "train.seed"),
    ("train.seed=99999999999999999999999999999999", "train.seed"),
    ("optimizer.lr=-1", "lr"),
    ("optimizer.momentum=-0.5", "momentum"),
    ("model.2.p=1", "p="),
    ("model.2.p=-0.1", "p="),
    ("checks.autograd.every=0", "checks.autograd.every"),
    ("checks.autograd.rtol=0", "checks.autograd.rtol"),
    ("checks.autograd.atol=-1", "checks.autograd.atol"),
    ("output.checkpoint_every=0", "output.checkpoint_every"),
    ("model.0.out_features=0", "model.0"),
]

WRONG_TYPES = [
    ("train.epochs=abc", "train.epochs"),
    ("train.epochs=[1]", "train.epochs"),
    ("train.epochs={a: 1}", "train.epochs"),
    ("train.epochs=1.5", "train.epochs"),
    ("data.shuffle=maybe", "data.shuffle"),
    ("train.device=tpu", "train.device"),
    ("train.dtype=float16", "train.dtype"),
    ("output.progress=loud", "output.progress"),
    ("output.plots=[]", "output.plots"),
    ("data.batch_size=abc", "data.batch_size"),
    ("model=5", "model"),
    ("model=[]", "model"),
    ("loss=3", "loss"),
    ("data=null", "data"),
    ("train=[1, 2]", "train"),
    ("metrics=7", "metrics"),
    ("optimizer.lr=abc", "optimizer"),
    ("model.0.in_features=abc", "model.0"),
]

UNKNOWN_NAMES = [
    ("model.0.type=linearr", "model.0.type"),
    ("loss.type=nope", "loss.type"),
    ("optimizer.type=sgdd", "optimizer.type"),
    ("schedule.type=wobble", "schedule.type"),
    ("data.source=nowhere", "data.source"),
    ("metrics=[accuracyy]", "metrics.0"),
    ("data.batch_sise=3", "data.batch_sise"),
    ("train.epoch=3", "train.epoch"),
    ("trian.epochs=3", "trian"),
    ("optimizer.momentun=0.5", "momentun"),
    ("model.0.bias_=true", "model.0"),
    ("output.checkpoints=1", "output.checkpoints"),
]

OVERRIDE_SYNTAX = [
    ("train.epochs", "train.epochs"),
    ("=3", "'=3'"),
    ("key=[1,", "key"),
    ("key={a: 1", "key"),
    ("model.x.p=1", "model.x.p"),
    ("model.9.p=1", "model.9.p"),
    ("model.-1.p=1", "model.3.p"),
    ("a..b=1", "a"),
    ("train.epochs=${nope}", "train.epochs"),
    ("train.epochs=${train.epochs}", "train.epochs"),
    ("train.epochs=!!python/object/apply:os.system [ls]", "train.epochs"),
    ("train.epochs=!!python/name:os.system", "train.epochs"),
    ("train.epochs=!!binary aGk=", "train.epochs"),
    ("train.epochs='", "train.epochs"),
    ('train.epochs="', "train.epochs"),
    ("train.epochs=*alias", "train.epochs"),
    ("train.epochs=&a [*a]", "train.epochs"),
]

MODEL_SHAPES = [
    ("model.3.in_features=5", "layer 3"),
    ("model.0.in_features=3", "layer 0"),
    ("model.3.out_features=4", "3 classes"),
    ("model.3.out_features=1", "3 classes"),
    ("data.args.num_classes=5", "5 classes"),
    ("model.0.in_features=784", "layer 0"),
]

RECIPE_FILES = [
    ("missing.yaml", None, "missing.yaml"),
    ("sub/", "dir", "is a folder"),
    ("x" * 300 + ".yaml", None, "x" * 100),
    ("empty.yaml", "", "empty.yaml"),
    ("list.yaml", "- 1\n- 2\n", "list.yaml"),
    ("scalar.yaml", "42\n", "scalar.yaml"),
    ("bad.yaml", "model: [\n", "bad.yaml"),
    ("tabs.yaml", "model:\n\t- 1\n", "tabs.yaml"),
    ("binary.yaml", "\x00\x01\x02\xff", "binary.yaml"),
    ("tag.yaml", "model: !!python/object/apply:os.system [ls]\n", "tag.yaml"),
    ("big.yaml", "#" * (1 << 20 | 1), "at most 1048576 bytes"),
    (
        "interp.yaml",
        RECIPE.replace(TRAIN, "train:\n  epochs: ${nope}\n"),
        "train.epochs: Interpolation key 'nope'",
    ),
    (
        "recursive.yaml",
        RECIPE.replace(TRAIN, "train:\n  epochs: ${train.epochs}\n"),
        "train.epochs: ",
    ),
    ("dupe.yaml", RECIPE + "train: {epochs: 2}\n", "dupe.yaml"),
    ("long-value.yaml", RECIPE.replace("lr: 0.1", "lr: '" + "x" * 100_000 + "'"), "optimizer"),
    ("many.yaml", RECIPE + "".join(f"junk{i}: 1\n" for i in range(1000)), "and 970 more"),
    ("aliases.yaml", RECIPE + ALIASES, "YAML node expansion exceeds"),
    (
        "quoted-nan.yaml",
        RECIPE.replace("lr: 0.1", "lr: 'nan'"),
        "optimizer.lr: nan is not a finite",
    ),
    ("nomodel.yaml", RECIPE.split("loss:")[1].join(["loss:", ""]), "model"),
]

OUTPUT_DIRS = [
    ("file", "exists and is not a folder"),
    ("nonempty", "already exists and is not empty"),
    ("x" * 300, "File name too long"),
    ("file/sub", "Not a directory"),
]

# Reliability II, class 7: an override's problem says what was expected, and no value,
# however long, floods the message.
OVERRIDE_FORMS = [
    ("a..b=1", "a..b: not a dotted key"),
    ("train.epochs='", "expected dotted.key=value"),
    ("train.epochs=!!python/name:os.system", "a plain YAML value (no tags)"),
    ("model.9.p=1", "an existing list index"),
    ("model.x.p=1", "an existing list index"),
    ("train.epochs=${nope}", "name another key that exists (not itself)"),
    ("train.epochs=${train.epochs}", "name another key that exists (not itself)"),
    ("model.0.type=" + "x" * 1_000_000, "(1000002 characters)"),  # its repr, quoted
    ("optimizer.type=" + "y" * 1_000_000, "(1000002 characters)"),
]

# Reliability II, class 5: a sweep is bounded, and refused before anything is written.
SWEEPS = [
    (["--seeds", "0-999999999"], "more than 1000 seeds"),
    (["--seeds", "0-10,20-1999"], "more than 1000 seeds"),
    (["optimizer.lr=" + ",".join(str(i) for i in range(1, 102)), "--seeds", "0-9"], "1010 runs"),
    (["optimizer.lr=0.1,0.1", "--seeds", "0"], "'0.1' is given twice"),
    (["optimizer.lr=a/b,a:b", "--seeds", "0"], "would share the folder"),
    (["--seeds", "0-1", "--max-runs", "1"], "more than 1 seeds"),
]

CASES = (
    [pytest.param(["validate", "{r}", o], k, id=f"non-finite:{o}") for o, k in NON_FINITE]
    + [pytest.param(["validate", "{r}", o], k, id=f"range:{o}") for o, k in OUT_OF_RANGE]
    + [pytest.param(["validate", "{r}", o], k, id=f"type:{o}") for o, k in WRONG_TYPES]
    + [pytest.param(["validate", "{r}", o], k, id=f"name:{o}") for o, k in UNKNOWN_NAMES]
    + [pytest.param(["run", "{r}", o], k, id=f"override:{o[:40]}") for o, k in OVERRIDE_SYNTAX]
    + [pytest.param(["run", "{r}", o], k, id=f"shape:{o}") for o, k in MODEL_SHAPES]
    + [pytest.param(["validate", "{r}", o], k, id=f"validate-shape:{o}") for o, k in MODEL_SHAPES]
    + [
        pytest.param(["run", "{r}", "-o", f"{{d}}/{o}"], k, id=f"out:{o[:20]}")
        for o, k in OUTPUT_DIRS
    ]
    + [pytest.param(["resume", "{d}/nothing"], "nothing", id="resume:missing")]
    + [pytest.param(["resume", "{d}/file"], "file", id="resume:file")]
    + [pytest.param(["resume", "{d}/nonempty"], "recipe.yaml", id="resume:not-a-run")]
    + [pytest.param(["run", "{r}", o], k, id=f"form:{o[:30]}") for o, k in OVERRIDE_FORMS]
    + [
        pytest.param(["sweep", "{r}", *a, "-o", "{d}/sweep"], k, id=f"sweep:{' '.join(a)[:30]}")
        for a, k in SWEEPS
    ]
)


def _setup(tmp_path: Path) -> tuple[Path, Path]:
    work = tmp_path / "work"
    work.mkdir()
    (work / "file").write_text("x")
    (work / "nonempty").mkdir()
    (work / "nonempty" / "keep").write_text("x")
    (tmp_path / "r.yaml").write_text(RECIPE)
    return tmp_path / "r.yaml", work


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _run_cli(args: list[str], monkeypatch, capsys) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["corebp", *args])
    started = time.perf_counter()
    with pytest.raises(SystemExit) as e:
        cli.main()
    assert time.perf_counter() - started < 60
    out = capsys.readouterr()
    return e.value.code, out.out + out.err  # type: ignore[return-value]


def _check(code: int, output: str, expected: str) -> None:
    assert code == 2, output
    assert "Traceback" not in output and "internal error" not in output, output
    assert output.startswith("corebp: error: "), output
    assert expected in output, output
    assert len(output) < 6_000  # at most 30 problem lines (MAX_PROBLEMS) of ~200 characters


@pytest.mark.parametrize(("args", "expected"), CASES)
def test_a_hostile_command_line_is_refused_cleanly(args, expected, tmp_path, monkeypatch, capsys):
    recipe, work = _setup(tmp_path)
    monkeypatch.chdir(work)
    monkeypatch.delenv("COREBP_DEBUG", raising=False)
    before = _listing(work)
    args = [a.replace("{r}", str(recipe)).replace("{d}", str(work)) for a in args]
    code, output = _run_cli(args, monkeypatch, capsys)
    _check(code, output, expected.replace("{d}", str(work)))
    assert _listing(work) == before  # nothing left behind


@pytest.mark.parametrize(
    ("name", "content", "expected"), RECIPE_FILES, ids=[c[0][:20] for c in RECIPE_FILES]
)
def test_a_hostile_recipe_file_is_refused_cleanly(
    name, content, expected, tmp_path, monkeypatch, capsys
):
    _, work = _setup(tmp_path)
    monkeypatch.chdir(work)
    monkeypatch.delenv("COREBP_DEBUG", raising=False)
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(
            content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content
        )
    before = _listing(work)
    code, output = _run_cli(["run", str(path)], monkeypatch, capsys)
    _check(code, output, expected)
    assert _listing(work) == before


def test_the_corpus_has_at_least_100_cases():
    assert len(CASES) + len(RECIPE_FILES) >= 100
