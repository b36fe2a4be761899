"""EmbeddingStore: embed once, keep the result on disk, resume interrupted runs."""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import progress_bar
from ..config import cache_dir
from ..exceptions import CacheError, InputError
from ._checks import check_output, check_positive_int
from ._io import (
    clean_strays,
    damaged_shard_error,
    entry_lock,
    now,
    read_manifest,
    shard_files,
    shard_problem,
    write_manifest,
    write_npy,
)
from ._keys import (
    FORMAT_VERSION,
    ID_LENGTH,
    canonical_json,
    content_digest,
    encoder_key,
    entry_key,
    normalize_dtype,
)
from ._set import EmbeddingSet
from ._verify import VerifyResult, verify_entry

__all__ = ["EmbeddingStore", "EntryInfo", "VerifyResult"]


@dataclass(frozen=True)
class EntryInfo:
    """One cache entry as :meth:`EmbeddingStore.entries` lists it."""

    id: str  # directory name: the first 24 hex characters of the key
    path: Path  # the entry directory
    encoder_name: str
    encoder_key: dict[str, Any]
    n: int  # number of inputs
    dim: int
    dtype: str  # storage dtype, "float32" or "float16"
    pooling: str
    complete: bool  # every shard written
    n_shards: int  # shards written so far
    n_shards_total: int
    size_bytes: int  # bytes on disk, all files of the entry
    created: datetime | None
    updated: datetime | None
    error: str | None = None  # set when the manifest cannot be read; other fields are then empty


class EmbeddingStore:
    """A content-addressed, resumable on-disk cache of embeddings.

    Entries live in ``<root>/v1/<entry_id>/`` as a ``manifest.json`` plus ``.npy`` shards. The
    entry key hashes the encoder's ``key()``, the storage dtype and every input's text, in order.

    Parameters
    ----------
    root : str or Path, optional
        Cache directory; defaults to :func:`headwise.config.cache_dir` (``$HEADWISE_CACHE_DIR``).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> class Tiny:
    ...     name, dim, pooling = "tiny", 2, "mean"
    ...     def key(self): return {"name": self.name}
    ...     def encode(self, inputs, *, batch_size=32, progress=None):
    ...         return np.array([[len(t), 1.0] for t in inputs], dtype=np.float32)
    >>> store = EmbeddingStore(tempfile.mkdtemp())
    >>> emb = store.get_or_compute(Tiny(), ["a", "bcd"])
    >>> emb.to_numpy()
    array([[1., 1.],
           [3., 1.]], dtype=float32)
    >>> store.lookup(Tiny(), ["a", "bcd"]).n
    2
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = cache_dir() if root is None else Path(root).expanduser()

    def __repr__(self) -> str:
        return f"EmbeddingStore(root={str(self.root)!r})"

    @property
    def _base(self) -> Path:
        return self.root / f"v{FORMAT_VERSION}"

    # ---------------------------------------------------------------- embed
    def _prepare(self, encoder: Any, inputs: Sequence[str], dtype: Any) -> dict[str, Any]:
        texts, digest = content_digest(inputs)
        dtype = normalize_dtype(dtype)
        ekey = encoder_key(encoder)
        name = str(getattr(encoder, "name", type(encoder).__name__))
        dim = getattr(encoder, "dim", None)
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
            raise InputError(f"Encoder {name!r} has dim={dim!r}; expected a positive int.")
        key = entry_key(ekey, dtype, digest)
        return {
            "texts": texts,
            "key": key,
            "dir": self._base / key[:ID_LENGTH],
            "manifest": {
                "format_version": FORMAT_VERSION,
                "key": key,
                "encoder_name": name,
                "encoder_key": ekey,
                "dtype": dtype,
                "n": len(texts),
                "dim": int(dim),
                "pooling": str(getattr(encoder, "pooling", "mean")),
                "content_digest": digest,
            },
        }

    def _checked(self, entry_dir: Path, manifest: dict[str, Any], want: dict[str, Any]) -> None:
        """Refuse an entry whose manifest disagrees with the request or whose files are damaged."""
        for field, value in want.items():
            if field == "encoder_name":  # a display name; aliases may share one key()
                continue
            if canonical_json(manifest[field]) != canonical_json(value):
                raise CacheError(
                    f"Cache entry {entry_dir.name} does not match this request: its manifest "
                    f"has {field}={manifest[field]!r}, expected {value!r}. Either the entry was "
                    "altered on disk or the encoder's key() leaves out something that changes "
                    f"its output; `headwise cache remove {entry_dir.name}` deletes the entry."
                )
        for shard in manifest["shards"]:
            problem = shard_problem(entry_dir, shard)
            if problem is not None:
                raise damaged_shard_error(entry_dir.name, shard["index"], problem)

    def lookup(
        self, encoder: Any, inputs: Sequence[str], *, dtype: str = "float32"
    ) -> EmbeddingSet | None:
        """Return the complete cached entry for these inputs, or ``None``; never computes."""
        req = self._prepare(encoder, inputs, dtype)
        manifest = read_manifest(req["dir"])
        if manifest is None or not manifest["complete"]:
            return None
        self._checked(req["dir"], manifest, req["manifest"])
        return EmbeddingSet(req["dir"], manifest)

    def get_or_compute(
        self,
        encoder: Any,
        inputs: Sequence[str],
        *,
        batch_size: int = 32,
        dtype: str = "float32",
        shard_size: int = 4096,
        progress: bool | None = None,
    ) -> EmbeddingSet:
        """Return the embeddings of ``inputs``, computing and caching only what is missing.

        A complete entry costs one hash per input, a manifest read and a ``stat`` per shard.
        Otherwise shards of ``shard_size`` rows are computed in order, each written atomically
        and recorded in the manifest, so an interrupted run resumes where it stopped. An
        existing entry keeps the ``shard_size`` it was created with.

        Raises
        ------
        InputError
            Empty or non-text inputs; encoder output of the wrong shape or with NaN/inf.
        CacheError
            A damaged entry; the message names the command that repairs it.
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        shard_size = check_positive_int(shard_size, "shard_size")
        req = self._prepare(encoder, inputs, dtype)
        entry_dir, want = req["dir"], req["manifest"]
        manifest = read_manifest(entry_dir)
        if manifest is not None and manifest["complete"]:
            self._checked(entry_dir, manifest, want)
            return EmbeddingSet(entry_dir, manifest)
        with entry_lock(entry_dir):
            manifest = read_manifest(entry_dir)  # another process may have finished meanwhile
            if manifest is None:
                stamp = now()
                manifest = {**want, "shard_size": shard_size, "complete": False, "shards": []}
                manifest.update(created=stamp, updated=stamp)
                clean_strays(entry_dir, manifest)
                write_manifest(entry_dir, manifest)
            else:
                clean_strays(entry_dir, manifest)
            self._checked(entry_dir, manifest, want)
            if not manifest["complete"]:
                self._compute(encoder, req["texts"], entry_dir, manifest, batch_size, progress)
        return EmbeddingSet(entry_dir, manifest)

    def _compute(
        self,
        encoder: Any,
        texts: list[str],
        entry_dir: Path,
        manifest: dict[str, Any],
        batch_size: int,
        progress: bool | None,
    ) -> None:
        n, size = manifest["n"], manifest["shard_size"]
        n_total = math.ceil(n / size)
        done = {s["index"] for s in manifest["shards"]}
        tokens = manifest["pooling"] == "tokens"
        label = f"Embedding with {manifest['encoder_name']}"
        with progress_bar(n, label, enabled=progress) as bar:
            bar.advance(sum(s["stop"] - s["start"] for s in manifest["shards"]))
            for i in range(n_total):
                if i in done:
                    continue
                start, stop = i * size, min(n, (i + 1) * size)
                out = encoder.encode(texts[start:stop], batch_size=batch_size, progress=False)
                vectors, offsets = check_output(out, manifest, start, stop)
                names = shard_files(i, tokens)
                record: dict[str, Any] = {"index": i, "start": start, "stop": stop}
                files = []
                if offsets is not None:
                    files.append(write_npy(entry_dir / names[1], offsets))
                    record["n_tokens"] = int(vectors.shape[0])
                files.insert(0, write_npy(entry_dir / names[0], vectors))
                record.update(files=files, created=now())
                manifest["shards"].append(record)
                manifest["updated"] = now()
                manifest["complete"] = len(manifest["shards"]) == n_total
                write_manifest(entry_dir, manifest)
                bar.advance(stop - start)

    # ---------------------------------------------------------------- manage
    def _ids(self) -> list[str]:
        if not self._base.is_dir():
            return []
        return sorted(p.name for p in self._base.iterdir() if p.is_dir() and p.name[0] != ".")

    def _resolve(self, entry_id_or_prefix: str) -> str:
        prefix = str(entry_id_or_prefix).strip()
        if not prefix:
            raise CacheError("An empty entry id matches every entry; give an id or a prefix.")
        ids = self._ids()
        matches = [i for i in ids if i.startswith(prefix)]
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

    def entries(self) -> list[EntryInfo]:
        """List every entry, most recently updated first; unreadable ones carry ``error``."""
        infos = [self._info(eid) for eid in self._ids()]
        infos.sort(key=lambda e: (e.updated is None, -e.updated.timestamp() if e.updated else 0))
        return infos

    def _info(self, eid: str) -> EntryInfo:
        path = self._base / eid
        size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
        try:
            m = read_manifest(path)
            error = None if m is not None else "no manifest (interrupted before the first shard)"
        except CacheError as exc:
            m, error = None, str(exc)
        if m is None:
            return EntryInfo(eid, path, "", {}, 0, 0, "", "", False, 0, 0, size, None, None, error)
        return EntryInfo(
            id=eid,
            path=path,
            encoder_name=m["encoder_name"],
            encoder_key=m["encoder_key"],
            n=m["n"],
            dim=m["dim"],
            dtype=m["dtype"],
            pooling=m["pooling"],
            complete=m["complete"],
            n_shards=len(m["shards"]),
            n_shards_total=math.ceil(m["n"] / m["shard_size"]),
            size_bytes=size,
            created=_parse_time(m["created"]),
            updated=_parse_time(m["updated"]),
        )

    def verify(self, entry_id: str | None = None, *, repair: bool = False) -> list[VerifyResult]:
        """Check every shard's sha256 (all entries, or one id/prefix); ``repair`` drops bad ones.

        Repair removes damaged shards from the manifest and marks the entry incomplete, so the
        next :meth:`get_or_compute` recomputes just those; an entry whose manifest is unreadable
        is removed whole.
        """
        ids = self._ids() if entry_id is None else [self._resolve(entry_id)]
        results = []
        for eid in ids:
            path, trash = self._base / eid, None
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
        """Move an entry aside (call under its lock) so readers never see it half-deleted."""
        trash = self._base / f".trash-{path.name}-{secrets.token_hex(4)}"
        os.replace(path, trash)
        return trash

    def _delete(self, path: Path) -> None:
        with entry_lock(path, blocking=False, must_exist=True):
            trash = self._trash(path)
        shutil.rmtree(trash, ignore_errors=True)

    def remove(self, entry_id_or_prefix: str) -> list[str]:
        """Delete the entry whose id starts with the given prefix; return the removed ids."""
        eid = self._resolve(entry_id_or_prefix)
        self._delete(self._base / eid)
        return [eid]

    def clear(self) -> int:
        """Delete every entry; return how many were removed."""
        removed, busy = 0, []
        for eid in self._ids():
            try:
                self._delete(self._base / eid)
                removed += 1
            except CacheError:
                busy.append(eid)
        if self._base.is_dir():
            for p in self._base.iterdir():
                if p.name.startswith(".trash-"):
                    shutil.rmtree(p, ignore_errors=True)
        if busy:
            raise CacheError(
                f"Removed {removed} cache entries; {len(busy)} are being written by another "
                f"process and were kept ({', '.join(busy)}). Run clear again when they finish."
            )
        return removed


def _parse_time(stamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(stamp)
    except ValueError:
        return None
