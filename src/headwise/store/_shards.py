"""Shard files: plain ``.npy`` written atomically, checked once per process before use.

A shard is checked before its vectors are used: size (one ``stat``), then, the first time this
process opens it, its sha256 against the index and every value finite. The result is remembered
per (file, inode, size, mtime), so the full read is paid once per shard per process.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import stat
import threading
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write
from ..exceptions import CacheError
from ._index import ShardRecord
from ._paths import SHARD_NAME, check_name

__all__ = ["REPAIR_HINT", "load_shard", "shard_error", "write_shard", "file_sha256", "npy_bytes"]

REPAIR_HINT = (
    "Run `headwise cache verify --repair` to remove it; the next run recomputes its rows."
)
_VERIFIED: set[tuple[str, int, int, int]] = set()
_VERIFIED_LOCK = threading.Lock()


def shard_error(key_id: str, name: str, problem: str) -> CacheError:
    """The one-line error for a damaged shard, naming it and the command that fixes it."""
    return CacheError(f"Cache shard {key_id}/{name} {problem}. {REPAIR_HINT}")


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(array), version=(1, 0), allow_pickle=False)
    return buf.getvalue()


def write_shard(folder: Path, array: np.ndarray) -> dict[str, Any]:
    """Atomically write ``array`` as a new, uniquely named shard; return its index record."""
    data = npy_bytes(array)
    name = f"shard-{secrets.token_hex(8)}.npy"
    atomic_write(folder / name, data, what="Cache shard")
    return {
        "name": name,
        "nbytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "n_vectors": int(array.shape[0]),
    }


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks (never through a symlink)."""
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def shard_problem(path: Path, rec: ShardRecord, *, full: bool) -> str | None:
    """Describe what is wrong with a shard file, else ``None``; ``full`` also hashes it."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "is missing"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file (a symlink or folder was put in its place)"
    if st.st_size != rec.nbytes:
        state = "truncated" if st.st_size < rec.nbytes else "the wrong size"
        return f"is {state} (expected {rec.nbytes} bytes, found {st.st_size})"
    if full and file_sha256(path) != rec.sha256:
        return "is corrupt (it does not match its sha256 checksum)"
    return None


def load_shard(folder: Path, key_id: str, rec: ShardRecord, dim: int, dtype: np.dtype) -> np.ndarray:
    """Memory-map a shard after checking it (checksum and NaN once per process)."""
    path = folder / check_name(rec.name, SHARD_NAME, "index")
    problem = shard_problem(path, rec, full=False)
    if problem is not None:
        raise shard_error(key_id, rec.name, problem)
    st = os.lstat(path)
    token = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    with _VERIFIED_LOCK:
        known = token in _VERIFIED
    if not known and file_sha256(path) != rec.sha256:
        raise shard_error(key_id, rec.name, "is corrupt (it does not match its sha256 checksum)")
    try:
        arr: np.ndarray = np.load(path, mmap_mode="r" if rec.n_vectors else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise shard_error(key_id, rec.name, f"cannot be read ({exc})") from None
    if arr.shape != (rec.n_vectors, dim) or arr.dtype != dtype:
        raise shard_error(
            key_id, rec.name,
            f"holds {arr.dtype} {arr.shape}, expected {dtype} {(rec.n_vectors, dim)}",
        )
    if not known:
        for a in range(0, arr.shape[0], 65536):
            block = np.asarray(arr[a : a + 65536])
            if not np.isfinite(block).all():
                row = a + int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
                raise shard_error(key_id, rec.name, f"holds NaN or infinite values (vector {row})")
        with _VERIFIED_LOCK:
            _VERIFIED.add(token)
    return arr
