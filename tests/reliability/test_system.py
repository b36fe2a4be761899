"""Failures that need the operating system's help: permission denied, read-only FS, disk full.

The tests run as root, for whom permission bits do not apply, so permission-denied cases run
the CLI in a subprocess that drops root's CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
(``setpriv``), against folders made read-only by mode bits: a real EACCES.
Read-only file systems and full disks are real tmpfs mounts (read-only remount; a 256 KiB
size). Each group skips where the machine does not allow it (not root, no mount).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from battery_helpers import HINT, Outcome, run_in_process, run_subprocess, temp_files

from headwise.store import EmbeddingStore

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def one_line(out: Outcome, *fragments: str) -> str:
    assert out.exception is None, repr(out.exception)
    assert out.code == 1, f"exit {out.code}: {out.stdout}\n{out.stderr}"
    assert "Traceback" not in out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 2 and lines[-1].startswith(HINT), out.stderr
    for f in fragments:
        assert f.lower() in lines[0].lower(), lines[0]
    return lines[0]


def new_rows(ws: Path) -> Path:
    p = ws / "fresh.jsonl"
    p.write_text((ws / "toy.jsonl").read_text().replace("item", "fresh"))
    return p


# ---------------------------------------------------------------- permission denied
@pytest.fixture
def shared_ws(workspace: Path) -> Path:
    if not IS_ROOT or shutil.which("setpriv") is None:
        pytest.skip("permission-denied cases drop root's capabilities with setpriv")
    return workspace


def _readonly(path: Path) -> None:
    for p in [path, *path.rglob("*")]:
        os.chmod(p, 0o555 if p.is_dir() else 0o444)


def _env(ws: Path) -> dict[str, str]:
    return {"HEADWISE_CACHE_DIR": str(ws / "cache"), "HEADWISE_PROGRESS": "0", "HOME": str(ws)}


def test_cache_not_writable_on_a_miss(shared_ws: Path) -> None:
    _readonly(shared_ws / "cache")
    out = run_subprocess(["fit", str(new_rows(shared_ws)), "--encoder", "hash", "--head", "ncm",
                          "--out", str(shared_ws / "h.safetensors")], _env(shared_ws), obey_permissions=True)
    one_line(out, "not writable")
    assert not (shared_ws / "h.safetensors").exists() and not temp_files(shared_ws)


def test_cache_not_writable_still_serves_hits(shared_ws: Path) -> None:
    _readonly(shared_ws / "cache")
    out = run_subprocess(["fit", str(shared_ws / "toy.jsonl"), "--encoder", "hash", "--head", "ncm",
                          "--out", str(shared_ws / "h.safetensors")], _env(shared_ws), obey_permissions=True)
    assert out.code == 0, out.stderr


def test_out_folder_not_writable(shared_ws: Path) -> None:
    (shared_ws / "locked").mkdir(mode=0o555)
    os.chmod(shared_ws / "locked", 0o555)
    os.chmod(shared_ws / "cache", 0o777)
    for p in (shared_ws / "cache").rglob("*"):
        os.chmod(p, 0o777 if p.is_dir() else 0o666)
    out = run_subprocess(["fit", str(shared_ws / "toy.jsonl"), "--encoder", "hash", "--head", "ncm",
                          "--out", str(shared_ws / "locked" / "h.safetensors")], _env(shared_ws),
                         obey_permissions=True)
    one_line(out, "permission denied")


def test_data_file_not_readable(shared_ws: Path) -> None:
    os.chmod(shared_ws / "toy.jsonl", 0o000)
    out = run_subprocess(["embed", str(shared_ws / "toy.jsonl"), "--encoder", "hash"],
                         _env(shared_ws), obey_permissions=True)
    one_line(out, "toy.jsonl")


@pytest.mark.parametrize("args", [["cache", "verify", "--repair"], ["cache", "clear", "--yes"],
                                  ["cache", "gc"]])
def test_maintenance_on_a_cache_it_cannot_write(shared_ws: Path, args: list[str]) -> None:
    shard = sorted((shared_ws / "cache" / "v2").rglob("shard-*.npy"))[0]
    shard.write_bytes(shard.read_bytes()[:-9])  # something for repair to remove
    _readonly(shared_ws / "cache")
    out = run_subprocess(args, _env(shared_ws), obey_permissions=True)
    one_line(out)
    assert shard.exists()


# ---------------------------------------------------------------- mounts (read-only, full)
@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount_ro(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


needs_root = pytest.mark.skipif(not IS_ROOT, reason="mounting a tmpfs needs root")


@needs_root
def test_read_only_cache_on_a_miss(workspace: Path) -> None:
    with tmpfs(workspace / "ro", "4m") as ro:
        shutil.copytree(workspace / "cache", ro / "cache")
        remount_ro(ro)
        env = {"HEADWISE_CACHE_DIR": str(ro / "cache")}
        out = run_in_process(["fit", str(new_rows(workspace)), "--encoder", "hash", "--head", "ncm",
                              "--out", str(workspace / "h.safetensors")], env)
        one_line(out, "read-only")
        hit = run_in_process(["fit", str(workspace / "toy.jsonl"), "--encoder", "hash", "--head",
                              "ncm", "--out", str(workspace / "h.safetensors")], env)
        assert hit.code == 0, hit.stderr  # hits are still served from a read-only cache


@needs_root
@pytest.mark.parametrize("args", [["cache", "verify", "--repair"], ["cache", "clear", "--yes"],
                                  ["cache", "remove", "0"], ["cache", "gc"]])
def test_maintenance_on_a_read_only_cache(workspace: Path, args: list[str]) -> None:
    with tmpfs(workspace / "ro", "4m") as ro:
        shutil.copytree(workspace / "cache", ro / "cache")
        shard = sorted((ro / "cache" / "v2").rglob("shard-*.npy"))[0]
        shard.write_bytes(shard.read_bytes()[:-9])
        if args[1] == "remove":
            args = [*args[:2], shard.parent.name]
        remount_ro(ro)
        out = run_in_process(args, {"HEADWISE_CACHE_DIR": str(ro / "cache")})
        one_line(out)


@needs_root
def test_disk_full_while_writing_shards(workspace: Path) -> None:
    with tmpfs(workspace / "full", "256k") as full:
        env = {"HEADWISE_CACHE_DIR": str(full / "cache")}
        big = workspace / "big.jsonl"
        big.write_text("".join(f'{{"text": "row {i} {"word " * 20}", "label": "{i % 3}"}}\n'
                               for i in range(4000)))
        out = run_in_process(["embed", str(big), "--encoder", "hash:256"], env)
        one_line(out, "disk is full")
        assert not temp_files(full)
        results = EmbeddingStore(full / "cache").verify()
        assert all(r.ok for r in results), results  # committed shards intact, nothing half-written


@needs_root
@pytest.mark.parametrize("command", ["fit", "predict"])
def test_disk_full_for_head_and_prediction_files(workspace: Path, command: str) -> None:
    with tmpfs(workspace / "full", "64k") as full:
        (full / "filler").write_bytes(b"\0" * (64 * 1024 - 4096))
        with contextlib.suppress(OSError):
            with open(full / "filler2", "wb") as fh:
                fh.write(b"\0" * 8192)
        target = full / ("h.safetensors" if command == "fit" else "p.jsonl")
        args = (["fit", str(workspace / "toy.jsonl"), "--encoder", "hash", "--head", "logistic"]
                if command == "fit" else
                ["predict", str(workspace / "toy.jsonl"), "--model", str(workspace / "head.safetensors")])
        out = run_in_process([*args, "--out", str(target)], {})
        one_line(out, "disk is full")
        assert not target.exists() and not temp_files(full)


@needs_root
def test_out_on_a_read_only_file_system(workspace: Path) -> None:
    with tmpfs(workspace / "ro", "1m") as ro:
        remount_ro(ro)
        out = run_in_process(["fit", str(workspace / "toy.jsonl"), "--encoder", "hash", "--head",
                              "ncm", "--out", str(ro / "h.safetensors")], {})
        one_line(out, "read-only")
