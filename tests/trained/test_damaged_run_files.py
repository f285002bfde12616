"""Damaged run files (reliability II, class 1) and a decompression bomb (class 3): each is a
user error, exit 2, one line naming the file and the fix, no traceback and no traceback
file, nothing left behind — for every command that reads the file."""

from __future__ import annotations

import json
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml

DAMAGE: dict[str, Callable[[Path], None]] = {}


def damage(name: str):
    def register(f: Callable[[Path], None]) -> Callable[[Path], None]:
        DAMAGE[name] = f
        return f

    return register


@damage("an empty checkpoint")
def _empty(run: Path) -> None:
    (run / "checkpoint.pt").write_bytes(b"")


@damage("a pickle header followed by junk")
def _junk(run: Path) -> None:
    (run / "checkpoint.pt").write_bytes(b"\x80\x02}q\x00junkjunkjunk")


@damage("random bytes")
def _random(run: Path) -> None:
    (run / "checkpoint.pt").write_bytes(
        torch.randint(0, 256, (5000,), dtype=torch.uint8).numpy().tobytes()
    )


@damage("a text file")
def _text(run: Path) -> None:
    (run / "checkpoint.pt").write_text("hello world\n")


def _edit(run: Path, change: Callable[[dict], None]) -> None:
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    change(state)
    torch.save(state, run / "checkpoint.pt")


@damage("parameter names that are not all strings")
def _names(run: Path) -> None:
    _edit(run, lambda s: s["model"].__setitem__(1, s["model"].pop("0.W")))


@damage("a parameter that is not a tensor")
def _not_tensor(run: Path) -> None:
    _edit(run, lambda s: s["model"].__setitem__("0.W", [1.0, 2.0]))


@damage("a model entry that is not a dict")
def _model_list(run: Path) -> None:
    _edit(run, lambda s: s.__setitem__("model", [1, 2]))


@damage("a truncated provenance.json")
def _provenance(run: Path) -> None:
    path = run / "provenance.json"
    path.write_text(path.read_text()[:20])


@damage("a provenance.json that is not an object")
def _provenance_list(run: Path) -> None:
    (run / "provenance.json").write_text("[1, 2]")


COMMANDS = {"eval": ("eval",), "resume": ("resume", "train.epochs=3")}


def _traceback_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("corebp-traceback-*"))


def _listing(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _refused(code: int, err: str, names: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("corebp: error: "), err
    assert names in err, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert len(err) < 2_000


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_damaged_run_file_is_a_user_error_naming_it(
    case, command, synthetic_run, tmp_path, private_tmp, corebp_cli
):
    run = tmp_path / "run"
    shutil.copytree(synthetic_run, run)
    DAMAGE[case](run)
    before = _listing(run)
    file = "provenance.json" if "provenance" in case else "checkpoint.pt"
    code, _, err = corebp_cli(COMMANDS[command][0], str(run), *COMMANDS[command][1:])
    _refused(code, err, str(run / file))
    assert not _traceback_files(private_tmp)
    assert _listing(run) == before  # nothing written, nothing removed


def test_random_bytes_are_not_said_to_hold_code(synthetic_run, tmp_path, private_tmp, corebp_cli):
    run = tmp_path / "run"
    shutil.copytree(synthetic_run, run)
    for seed in range(20):  # torch's unpickler fails on random bytes in several ways
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randint(0, 256, (4000,), dtype=torch.uint8, generator=generator)
        (run / "checkpoint.pt").write_bytes(noise.numpy().tobytes())
        code, _, err = corebp_cli("eval", str(run))
        _refused(code, err, str(run / "checkpoint.pt"))
        assert "could run code" not in err and "damaged" in err, err


def _png(path: Path, width: int, height: int) -> None:
    """A one-colour 8-bit grey PNG of width × height, written without ever holding its pixels."""
    row = b"\x00" + bytes(width)
    pack = zlib.compressobj(9)
    body = b"".join(pack.compress(row * 1000) for _ in range(height // 1000))
    body += pack.compress(row * (height % 1000)) + pack.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("edge", [15_000, 10_000], ids=["over PIL's limit", "under it"])
def test_predict_refuses_a_decompression_bomb_before_decoding_it(
    edge, mnist_run, tmp_path, private_tmp, corebp_cli
):
    bomb = tmp_path / "bomb.png"
    _png(bomb, edge, edge)
    assert bomb.stat().st_size < 1_000_000
    code, _, err = corebp_cli("predict", str(mnist_run), str(bomb))
    _refused(code, err, str(bomb))
    assert f"{edge}×{edge}" in err and "28×28" in err
    assert not _traceback_files(private_tmp)


# -- class 2: a recipe.yaml that no longer matches the checkpoint ------------------------
EDITS = {
    "a swapped activation (same shapes)": (["model", 1, "type"], "sigmoid", "model.1.type"),
    "an edited learning rate": (["optimizer", "lr"], 0.5, "optimizer.lr"),
    "an edited width": (["model", 0, "out_features"], 32, "model.0.out_features"),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", sorted(EDITS))
def test_a_recipe_yaml_edited_after_training_is_refused_naming_the_difference(
    case, command, synthetic_run, tmp_path, private_tmp, corebp_cli
):
    run = tmp_path / "run"
    shutil.copytree(synthetic_run, run)
    keys, value, dotted = EDITS[case]
    recipe = yaml.safe_load((run / "recipe.yaml").read_text())
    node = recipe
    for k in keys[:-1]:
        node = node[k]
    was = node[keys[-1]]
    node[keys[-1]] = value
    if dotted == "model.0.out_features":  # the next layer follows, so the recipe is valid
        recipe["model"][2]["in_features"] = value
    (run / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    before = _listing(run)
    code, _, err = corebp_cli(COMMANDS[command][0], str(run), *COMMANDS[command][1:])
    _refused(code, err, str(run / "recipe.yaml"))
    assert f"{dotted} is {value!r}" in err and f"trained with {was!r}" in err, err
    assert not _traceback_files(private_tmp)
    assert _listing(run) == before


PREPROCESSING = {
    "an absurd pad": {"pad": 10**9},
    "an absurd resize": {"resize": 10**8},
    "an input_shape that is not the image's": {"input_shape": [3, 5]},
    "an input_shape the model does not take": {"input_shape": [1, 28, 28]},
}


@pytest.mark.parametrize("case", sorted(PREPROCESSING))
def test_a_damaged_preprocessing_record_is_refused_before_any_pixel_is_touched(
    case, mnist_run, tmp_path, private_tmp, corebp_cli
):
    run = tmp_path / "run"
    shutil.copytree(mnist_run, run)
    path = run / "preprocessing.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps(record | PREPROCESSING[case]))
    digit = tmp_path / "digit.png"
    _png(digit, 28, 28)
    code, _, err = corebp_cli("predict", str(run), str(digit))
    _refused(code, err, str(path))
    assert not _traceback_files(private_tmp)
