"""Maintenance of the row store: list, verify (and repair), gc, remove, clear.

Everything that deletes takes ``v2/.lock`` exclusively (writers hold it shared), only touches
names that match the store's own patterns, and never follows a symlink: a link found where a
folder or shard should be is reported and, on repair, the link itself is removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import is_temp_name
from ..exceptions import CacheError
from ._index import INDEX_NAME, Index, ShardRecord, quick_check, replace_shard, rows_of_shard
from ._io import now
from ._paths import KEY_ID, SHARD_NAME, flock, is_real_dir, safe_unlink
from ._shards import REPAIR_HINT, load_shard, shard_problem, write_shard
from ._v1 import V1Store, n_shards_total, parse_time
from ._verify import VerifyResult

__all__ = ["EntryInfo", "GcResult", "Maintenance"]


@dataclass(frozen=True)
class EntryInfo:
    """One encoder key (layout "v2") or one old per-dataset entry (layout "v1")."""

    id: str  # v2: the encoder key id (its shard folder); v1: the entry folder
    path: Path
    encoder_name: str
    encoder_key: dict[str, Any]
    n: int  # rows stored
    dim: int
    dtype: str
    pooling: str
    complete: bool  # v1: every shard written; v2: always True (rows are committed one shard at a time)
    n_shards: int
    n_shards_total: int
    size_bytes: int
    created: datetime | None
    updated: datetime | None
    error: str | None = None
    layout: str = "v2"
    datasets: tuple[dict[str, Any], ...] = field(default_factory=tuple)  # name, n, used


@dataclass(frozen=True)
class GcResult:
    """What ``gc`` removed (or would remove, with ``dry_run``) for one encoder key."""

    id: str
    rows_removed: int
    shards_removed: int
    shards_rewritten: int
    bytes_freed: int
    dry_run: bool


_BUSY = "The cache is being written by another process; run this again when that run finishes."


class Maintenance:
    """Mixed into :class:`EmbeddingStore`: the operations that inspect or delete."""

    root: Path
    _base: Path
    _index: Index
    _v1: V1Store

    def _has_index(self) -> bool:
        return is_real_dir(self._base) and (self._base / INDEX_NAME).is_file()

    def _exclusive(self) -> contextlib.AbstractContextManager[None]:
        if not is_real_dir(self._base):
            return contextlib.nullcontext()
        return flock(self._base / ".lock", blocking=False, busy=_BUSY)

    # ---------------------------------------------------------------- list
    def entries(self) -> list[EntryInfo]:
        """Every encoder key (rows, size, datasets that used it), then the v1 entries."""
        out = []
        if self._has_index():
            datasets: dict[int, list[dict[str, Any]]] = {}
            for d in self._index.datasets():
                datasets.setdefault(d["enc"], []).append(
                    {"id": d["digest"][:12], "name": d["name"], "n": d["n"], "used": d["used"]})
            for e in self._index.encoders():
                if e["rows"] == 0 and e["id"] not in datasets:
                    continue  # a run that failed before its first shard: nothing to show
                used = [d["used"] for d in datasets.get(e["id"], [])]
                out.append(EntryInfo(
                    id=e["key_id"], path=self._base / e["key_id"], encoder_name=e["name"],
                    encoder_key=json.loads(e["key_json"]), n=e["rows"], dim=e["dim"],
                    dtype=e["dtype"], pooling=e["pooling"], complete=True, n_shards=e["n_shards"],
                    n_shards_total=e["n_shards"], size_bytes=e["size_bytes"],
                    created=parse_time(e["created"]), updated=parse_time(max(used, default=None)),
                    datasets=tuple(datasets.get(e["id"], [])),
                ))
        for v in self._v1.entries():
            m = v.manifest
            if m is None:
                out.append(EntryInfo(v.id, v.path, "", {}, 0, 0, "", "", False, 0, 0,
                                     v.size_bytes, None, None, v.error, "v1"))
                continue
            out.append(EntryInfo(
                id=v.id, path=v.path, encoder_name=m["encoder_name"], encoder_key=m["encoder_key"],
                n=m["n"], dim=m["dim"], dtype=m["dtype"], pooling=m["pooling"],
                complete=m["complete"], n_shards=len(m["shards"]), n_shards_total=n_shards_total(m),
                size_bytes=v.size_bytes, created=parse_time(m["created"]),
                updated=parse_time(m["updated"]), layout="v1",
            ))
        return out

    def _resolve(self, prefix: str) -> str:
        prefix = str(prefix).strip()
        if not prefix:
            raise CacheError("An empty id matches every entry; give an id or a prefix.")
        ids = [e.id for e in self.entries()]
        matches = sorted({i for i in ids if i.startswith(prefix)})
        if not matches:
            raise CacheError(
                f"No cache entry matches {prefix!r} in {self.root}. "
                "`headwise cache list` shows the entry ids."
            )
        if len(matches) > 1:
            shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
            raise CacheError(
                f"Entry prefix {prefix!r} is ambiguous: it matches {len(matches)} entries "
                f"({shown}). Give more characters."
            )
        return matches[0]

    # ---------------------------------------------------------------- verify
    def verify(self, entry_id: str | None = None, *, repair: bool = False) -> list[VerifyResult]:
        """Check every shard's size, sha256 and values; ``repair`` removes what is damaged.

        Also reports leftover temp files, orphan shards and anything that is not the store's
        own (symlinks included, never followed); ``repair`` removes those too. Removed rows are
        recomputed by the next run that needs them.
        """
        only = None if entry_id is None else self._resolve(entry_id)
        results: list[VerifyResult] = []
        with self._exclusive() if repair else contextlib.nullcontext():
            if self._base.is_symlink():
                results.append(self._foreign(self._base, "v2", repair))
            elif is_real_dir(self._base):
                results += self._verify_v2(only, repair)
            if only is None or any(only == v for v in self._v1.ids()):
                results += [r for r in self._v1.verify(repair) if only in (None, r.id)]
        return results

    def _foreign(self, path: Path, label: str, repair: bool) -> VerifyResult:
        problem = f"{label} is a symlink or foreign file inside the cache; it is never followed."
        if repair:
            safe_unlink(path)
        return VerifyResult(label, False, 0, (), (problem,), repair)

    def _verify_v2(self, only: str | None, repair: bool) -> list[VerifyResult]:
        results = []
        index = self._index
        if (self._base / INDEX_NAME).exists():
            damage = quick_check(index)
            if damage is not None:
                if repair:
                    for suffix in ("", "-wal", "-shm"):
                        p = self._base / (INDEX_NAME + suffix)
                        if p.exists():
                            os.replace(p, self._base / f".damaged-{now()}-{INDEX_NAME}{suffix}")
                results.append(VerifyResult("index", False, 0, (), (damage,), repair))
        encoders = self._index.encoders() if self._has_index() else []
        known = {e["key_id"] for e in encoders}
        for e in encoders:
            if only is None or only == e["key_id"]:
                results.append(self._verify_key(e, repair))
        for p in sorted(self._base.iterdir()):
            name = p.name
            if name in known or name in (".lock", INDEX_NAME) or name.startswith(INDEX_NAME + "-"):
                continue
            if name.startswith(".damaged-") or only is not None:
                continue
            if KEY_ID.fullmatch(name) and is_real_dir(p):
                problem = f"v2/{name} holds shards no index entry lists (orphans)."
                if repair:
                    shutil.rmtree(p, ignore_errors=True)
                results.append(VerifyResult(name, False, 0, (), (problem,), repair, (name,)))
            elif is_temp_name(name) or not is_real_dir(p):
                results.append(self._foreign(p, f"v2/{name}", repair))
        return results

    def _verify_key(self, e: dict[str, Any], repair: bool) -> VerifyResult:
        kid, folder = e["key_id"], self._base / e["key_id"]
        if not KEY_ID.fullmatch(kid) or folder.is_symlink():
            problem = f"Cache key {kid!r} has no real folder (a symlink or a bad name); not followed."
            if repair:
                if KEY_ID.fullmatch(kid):
                    safe_unlink(folder)
                self._index.drop_encoder(e["id"])
            return VerifyResult(str(kid), False, 0, (), (problem,), repair)
        records = self._index.shards(e["id"])
        bad: list[ShardRecord] = []
        problems = []
        for rec in records:
            problem = _shard_damage(folder, kid, rec, e)
            if problem is not None:
                bad.append(rec)
                problems.append(f"Cache shard {kid}/{rec.name} {problem}. {REPAIR_HINT}")
        names = {r.name for r in records}
        strays = sorted(
            p.name for p in folder.iterdir() if p.name != ".lock" and p.name not in names
        ) if is_real_dir(folder) else []
        if strays and not repair:
            problems.append(
                f"Cache key {kid} holds {len(strays)} leftover temp, orphan or foreign files "
                f"({', '.join(strays[:3])}); `headwise cache verify --repair` removes them."
            )
        if repair:
            self._index.drop_shards([r.id for r in bad])
            for rec in bad:
                if SHARD_NAME.fullmatch(rec.name):
                    safe_unlink(folder / rec.name)
            for name in strays:
                safe_unlink(folder / name)
        return VerifyResult(kid, not problems and not strays, len(records),
                            tuple(r.name for r in bad), tuple(problems), repair and bool(
                                problems or strays), tuple(strays))

    # ---------------------------------------------------------------- gc
    def gc(self, *, dry_run: bool = False) -> list[GcResult]:
        """Remove rows that no recorded dataset references; shards left empty go, others shrink.

        Datasets are recorded by every :meth:`get_or_compute`; rows of a run that was
        interrupted before it finished are unreferenced until a run completes.
        """
        if not self._has_index():
            return []
        results = []
        with contextlib.nullcontext() if dry_run else self._exclusive():
            for e in self._index.encoders():
                count, whole, partly = self._index.unreferenced(e["id"])
                recs = {r.id: r for r in self._index.shards(e["id"])}
                freed = sum(recs[s].nbytes for s in whole if s in recs)
                rewritten = 0
                if not dry_run:
                    folder = self._base / e["key_id"]
                    self._index.drop_shards(whole)
                    for s in whole:
                        if s in recs and SHARD_NAME.fullmatch(recs[s].name):
                            safe_unlink(folder / recs[s].name)
                    keep = self._index.referenced(e["id"])
                    for s in partly:
                        freed += self._compact(e, folder, recs[s], keep)
                        rewritten += 1
                results.append(GcResult(e["key_id"], count, len(whole), rewritten if not dry_run
                                        else len(partly), freed, dry_run))
        return results

    def _compact(self, e: dict[str, Any], folder: Path, rec: ShardRecord, keep: set[bytes]) -> int:
        arr = load_shard(folder, e["key_id"], rec, e["dim"], np.dtype(e["dtype"]))
        rows = [r for r in rows_of_shard(self._index, rec.id) if r[0] in keep]
        parts = [np.asarray(arr[p : p + n]) for _, p, n in rows]
        vectors = np.concatenate(parts) if parts else np.zeros((0, e["dim"]), e["dtype"])
        new = write_shard(folder, vectors)
        new["created"] = now()
        starts = np.concatenate([[0], np.cumsum([n for _, _, n in rows])[:-1]]).astype(int)
        replace_shard(self._index, rec.id, e["id"], new,
                      [(h, int(a), n) for (h, _, n), a in zip(rows, starts, strict=True)])
        safe_unlink(folder / rec.name)
        return rec.nbytes - int(new["nbytes"])

    # ---------------------------------------------------------------- delete
    def remove(self, entry_id_or_prefix: str) -> list[str]:
        """Delete one encoder key's rows (or one v1 entry); return the removed ids."""
        eid = self._resolve(entry_id_or_prefix)
        if eid in self._v1.ids():
            self._v1.remove(eid)
            return [eid]
        with self._exclusive():
            rec = self._index.encoder(eid)
            if rec is not None:
                self._index.drop_encoder(int(rec["id"]))
            self._trash(self._base / eid)
        return [eid]

    def _trash(self, folder: Path) -> None:
        if folder.is_symlink():
            safe_unlink(folder)
        elif is_real_dir(folder):
            trash = self._base / f".trash-{folder.name}-{secrets.token_hex(4)}"
            os.replace(folder, trash)
            shutil.rmtree(trash, ignore_errors=True)

    def clear(self) -> int:
        """Delete every cached row and every v1 entry; return how many keys/entries went."""
        removed = 0
        if is_real_dir(self._base):
            with self._exclusive():
                for e in self._index.encoders() if self._has_index() else []:
                    if KEY_ID.fullmatch(e["key_id"]):
                        self._trash(self._base / e["key_id"])
                    removed += 1
                for suffix in ("", "-wal", "-shm"):
                    safe_unlink(self._base / (INDEX_NAME + suffix))
                for p in self._base.iterdir():
                    if KEY_ID.fullmatch(p.name) or p.name.startswith(".trash-"):
                        self._trash(p)
        return removed + self._v1.clear()


def _shard_damage(folder: Path, kid: str, rec: ShardRecord, e: dict[str, Any]) -> str | None:
    if not SHARD_NAME.fullmatch(rec.name):
        return f"has a name that is not a headwise shard ({rec.name!r})"
    problem = shard_problem(folder / rec.name, rec, full=True)
    if problem is not None:
        return problem
    try:
        load_shard(folder, kid, rec, int(e["dim"]), np.dtype(e["dtype"]))
    except CacheError as exc:
        return str(exc).split(f"{rec.name} ", 1)[-1].split(". Run", 1)[0]
    return None
