"""The v1 (per-dataset) cache layout, kept readable: list, verify, repair, remove, migrate.

Before the row index, each embedded dataset was one folder ``<root>/v1/<entry id>/`` holding a
``manifest.json`` and ``.npy`` shards. Nothing writes that layout any more; the v2 store finds a
v1 entry for exactly the inputs it is asked for and imports its vectors into the row index, so
old caches are read or migrated, never silently dropped. Every operation here skips (and
reports) symlinked entries and validates the file names a manifest lists.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..exceptions import CacheError
from ._io import entry_lock, read_manifest, shard_problem
from ._keys import FORMAT_VERSION, ID_LENGTH, canonical_json, entry_key
from ._paths import KEY_ID, is_real_dir, safe_unlink
from ._v1set import V1Set
from ._verify import VerifyResult, verify_entry

__all__ = ["V1Store", "V1Entry"]


@dataclass(frozen=True)
class V1Entry:
    """One v1 entry: id, folder, and its manifest (``None`` with ``error`` when unreadable)."""

    id: str
    path: Path
    manifest: dict[str, Any] | None
    size_bytes: int
    error: str | None


class V1Store:
    """Read-only access to ``<root>/v1``, plus the maintenance that removes what is broken."""

    def __init__(self, root: Path) -> None:
        self.base = root / f"v{FORMAT_VERSION}"

    def _names(self) -> list[str]:
        if not is_real_dir(self.base):
            return []
        return sorted(p.name for p in self.base.iterdir() if p.name[0] != ".")

    def ids(self) -> list[str]:
        """Entry folders (real folders with a well-formed id; links are never entered)."""
        return [n for n in self._names() if KEY_ID.fullmatch(n) and is_real_dir(self.base / n)]

    def links(self) -> list[str]:
        """Names in ``v1/`` that are symlinks or other foreign things (reported, never followed)."""
        return [n for n in self._names() if not (KEY_ID.fullmatch(n) and is_real_dir(self.base / n))]

    def entries(self) -> list[V1Entry]:
        out = []
        for eid in self.ids():
            path = self.base / eid
            size = sum(f.stat().st_size for f in path.iterdir() if f.is_file() and not f.is_symlink())
            try:
                m = read_manifest(path)
                error = None if m is not None else "no manifest (interrupted before the first shard)"
            except CacheError as exc:
                m, error = None, str(exc)
            out.append(V1Entry(eid, path, m, size, error))
        return out

    def find(self, ekey: dict[str, Any], dtype: str, digest: str) -> V1Set | None:
        """The complete, undamaged v1 entry for exactly these inputs, or ``None``."""
        key = entry_key(ekey, dtype, digest)
        path = self.base / key[:ID_LENGTH]
        if not is_real_dir(path):
            return None
        try:
            m = read_manifest(path)
        except CacheError:
            return None
        if m is None or not m["complete"] or m["key"] != key:
            return None
        if canonical_json(m["encoder_key"]) != canonical_json(ekey):
            return None
        if any(shard_problem(path, s) is not None for s in m["shards"]):
            return None
        return V1Set(path, m)

    def verify(self, repair: bool) -> list[VerifyResult]:
        results = []
        for name in self.links():
            problem = f"v1/{name} is not a cache entry folder (a symlink or foreign file); not followed."
            if repair:
                safe_unlink(self.base / name)
            results.append(VerifyResult(f"v1/{name}", False, 0, (), (problem,), repair))
        for eid in self.ids():
            path, trash = self.base / eid, None
            lock = entry_lock(path, blocking=False, must_exist=True)
            with lock if repair else contextlib.nullcontext():
                result, broken = verify_entry(path, repair)
                if repair and broken:
                    trash = self._trash(path)
            if trash is not None:
                shutil.rmtree(trash, ignore_errors=True)
            results.append(result)
        return results

    def _trash(self, path: Path) -> Path:
        trash = self.base / f".trash-{path.name}-{secrets.token_hex(4)}"
        os.replace(path, trash)
        return trash

    def remove(self, eid: str) -> None:
        path = self.base / eid
        with entry_lock(path, blocking=False, must_exist=True):
            trash = self._trash(path)
        shutil.rmtree(trash, ignore_errors=True)

    def clear(self) -> int:
        removed = 0
        for eid in self.ids():
            self.remove(eid)
            removed += 1
        if is_real_dir(self.base):
            for p in self.base.iterdir():
                if p.name.startswith(".trash-") and is_real_dir(p):
                    shutil.rmtree(p, ignore_errors=True)
        return removed


def n_shards_total(m: dict[str, Any]) -> int:
    return math.ceil(m["n"] / m["shard_size"])


def parse_time(stamp: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        return None


