"""On-disk pieces of the store: atomic writes, ``.npy`` shard files, the JSON manifest, locks.

Every file is written to a uniquely named temp file in its final directory, flushed, fsynced and
``os.replace``-d into place (safetensors commit 24b0b28 does the same), so a reader sees either the
old file or the new one. Shards are plain ``.npy`` files so ``np.load(mmap_mode="r")`` maps them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write as _atomic_write
from .._atomic import describe_os_error, is_temp_name
from ..exceptions import CacheError
from ._keys import FORMAT_VERSION
from ._paths import V1_FILE, is_real_dir

try:  # POSIX only; elsewhere writers are not serialised across processes
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "MANIFEST_NAME",
    "LOCK_NAME",
    "atomic_write",
    "clean_strays",
    "find_strays",
    "entry_lock",
    "file_sha256",
    "now",
    "read_manifest",
    "shard_files",
    "shard_problem",
    "damaged_shard_error",
    "write_manifest",
    "write_npy",
]

MANIFEST_NAME = "manifest.json"
LOCK_NAME = ".lock"
_TMP_SUFFIX = ".tmp"
REPAIR_HINT = (
    "Run `headwise cache verify --repair` to drop damaged shards; the next embed recomputes them."
)


def now() -> str:
    """Current UTC time as an ISO 8601 string, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through the one atomic writer (:mod:`headwise._atomic`)."""
    _atomic_write(path, data, what="Cache file")


def write_npy(path: Path, array: np.ndarray) -> dict[str, Any]:
    """Atomically save ``array`` as ``.npy`` and return its manifest record."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(array), version=(1, 0), allow_pickle=False)
    data = buf.getvalue()
    atomic_write(path, data)
    return {"name": path.name, "nbytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def shard_files(index: int, tokens: bool) -> list[str]:
    """File names of shard ``index``: vectors, then (for token entries) offsets."""
    names = [f"shard-{index:05d}.npy"]
    if tokens:
        names.append(f"shard-{index:05d}.offsets.npy")
    return names


_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "format_version": int,
    "key": str,
    "encoder_name": str,
    "encoder_key": dict,
    "dtype": str,
    "n": int,
    "dim": int,
    "pooling": str,
    "shard_size": int,
    "content_digest": str,
    "complete": bool,
    "shards": list,
    "created": str,
    "updated": str,
}
_SHARD_REQUIRED: dict[str, type] = {"index": int, "start": int, "stop": int, "files": list}


def _corrupt(entry_dir: Path, why: str) -> CacheError:
    return CacheError(
        f"Cache entry {entry_dir.name} has a corrupt manifest ({why}). Run `headwise cache "
        f"verify --repair` or `headwise cache remove {entry_dir.name}`; the next embed recomputes it."
    )


def read_manifest(entry_dir: Path) -> dict[str, Any] | None:
    """Return the entry's manifest, ``None`` when there is none, or raise :class:`CacheError`."""
    path = entry_dir / MANIFEST_NAME
    if path.is_symlink():
        raise _corrupt(entry_dir, "manifest.json is a symlink")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _corrupt(entry_dir, f"unreadable: {exc.strerror or exc}") from None
    try:
        manifest = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _corrupt(entry_dir, f"invalid JSON: {exc}") from None
    if not isinstance(manifest, dict):
        raise _corrupt(entry_dir, "not a JSON object")
    for field, kind in _REQUIRED.items():
        if not isinstance(manifest.get(field), kind):
            raise _corrupt(entry_dir, f"field {field!r} missing or of the wrong type")
    if manifest["format_version"] != FORMAT_VERSION:
        raise CacheError(
            f"Cache entry {entry_dir.name} has format version {manifest['format_version']}, but "
            f"this headwise reads version {FORMAT_VERSION}. Upgrade headwise or remove the entry."
        )
    for shard in manifest["shards"]:
        if not isinstance(shard, dict) or not all(
            isinstance(shard.get(f), k) for f, k in _SHARD_REQUIRED.items()
        ):
            raise _corrupt(entry_dir, "a shard record is malformed")
        for rec in shard["files"]:
            if not (
                isinstance(rec, dict)
                and isinstance(rec.get("name"), str)
                and V1_FILE.fullmatch(rec["name"]) is not None
                and isinstance(rec.get("nbytes"), int)
                and isinstance(rec.get("sha256"), str)
            ):
                raise _corrupt(entry_dir, f"a file record of shard {shard['index']} is malformed")
    return manifest


def write_manifest(entry_dir: Path, manifest: dict[str, Any]) -> None:
    """Atomically rewrite the manifest (pretty-printed, so people can read it)."""
    manifest["shards"].sort(key=lambda s: s["index"])
    data = json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False, allow_nan=False)
    atomic_write(entry_dir / MANIFEST_NAME, (data + "\n").encode("utf-8"))


def shard_problem(entry_dir: Path, shard: dict[str, Any]) -> str | None:
    """Cheap check (one stat per file): describe a missing or truncated file, else ``None``."""
    for rec in shard["files"]:
        try:
            size = os.stat(entry_dir / rec["name"]).st_size
        except FileNotFoundError:
            return f"is missing (expected file {rec['name']})"
        if size != rec["nbytes"]:
            state = "truncated" if size < rec["nbytes"] else "the wrong size"
            return f"is {state} (expected {rec['nbytes']} bytes, found {size})"
    return None


def damaged_shard_error(entry_id: str, index: int, problem: str) -> CacheError:
    """The one-line error for a damaged shard, with the command that fixes it."""
    return CacheError(f"Cache entry {entry_id} shard {index} {problem}. {REPAIR_HINT}")


def find_strays(entry_dir: Path, manifest: dict[str, Any]) -> list[str]:
    """Temp files and shard files the manifest does not list."""
    known = {rec["name"] for shard in manifest["shards"] for rec in shard["files"]}
    return sorted(
        p.name for p in entry_dir.iterdir()
        if is_temp_name(p.name)
        or (p.name.startswith("shard-") and p.name.endswith(".npy") and p.name not in known)
    )


def clean_strays(entry_dir: Path, manifest: dict[str, Any]) -> list[str]:
    """Delete temp files and shard files the manifest does not list; call only under the lock."""
    removed = find_strays(entry_dir, manifest)
    for name in removed:
        with contextlib.suppress(FileNotFoundError):
            (entry_dir / name).unlink()
    return removed


@contextlib.contextmanager
def entry_lock(
    entry_dir: Path, *, blocking: bool = True, must_exist: bool = False
) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<entry_dir>/.lock`` (created when missing).

    Writers wait (``blocking=True``); remove and repair pass ``blocking=False`` and get a
    :class:`CacheError` while a writer is busy. If the directory was removed while we waited, a
    writer re-creates it and locks again, so the holder always locks the directory that is there.
    """
    if fcntl is None:  # pragma: no cover
        yield
        return
    lock_path = entry_dir / LOCK_NAME
    if entry_dir.is_symlink() or (entry_dir.exists() and not is_real_dir(entry_dir)):
        raise CacheError(
            f"Cache entry {entry_dir.name} is a symlink or not a folder; the cache never follows "
            "links out of its root. Remove that link by hand."
        )
    while True:
        if not must_exist:
            entry_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except FileNotFoundError:
            if not must_exist:
                continue
            raise CacheError(f"Cache entry {entry_dir.name} does not exist.") from None
        except OSError as exc:
            raise CacheError(describe_os_error(lock_path, exc, what="Cache lock file")) from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                raise CacheError(
                    f"Cache entry {entry_dir.name} is being written by another process; "
                    "try again when that run finishes."
                ) from None
            try:
                same = os.stat(lock_path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                if must_exist:
                    raise CacheError(f"Cache entry {entry_dir.name} was removed meanwhile.")
                continue
            yield
            return
        finally:
            os.close(fd)  # closing the descriptor releases the flock
