"""EmbeddingStore: embed each row once per encoder key, keep it on disk, resume anywhere.

Layout under the cache root::

    v2/index.sqlite             row index (SQLite, WAL): encoder keys, shards, rows, datasets
    v2/<key id>/shard-*.npy     vectors, memory-mapped; a shard holds at most ``shard_size`` rows
    v2/.lock                    writers share it; repair, gc, remove and clear take it alone
    v1/<entry id>/              the old per-dataset layout: read, and migrated on first use

A row is found by the sha256 of its content within its encoder key, so any subset, superset,
reordering or extension of cached inputs encodes only the rows not seen before. Each shard and
its rows are committed in one transaction after the shard file is durable, so a killed run loses
at most the shard it was computing (``shard_size`` rows, 256 by default).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import is_temp_name
from .._progress import progress_bar
from ..config import cache_dir
from ..exceptions import CacheError, InputError
from ._checks import check_output, check_positive_int
from ._index import Index
from ._io import now
from ._keys import (
    ROW_FORMAT_VERSION,
    canonical_json,
    encoder_key,
    key_id,
    normalize_dtype,
    row_digests,
)
from ._maintain import Maintenance
from ._paths import SHARD_NAME, flock, is_real_dir, make_dir, safe_unlink
from ._set import EmbeddingSet
from ._shards import write_shard
from ._v1 import V1Store

__all__ = ["EmbeddingStore"]

MAX_SHARD_ROWS = 256  # rows per shard while encoding is slow: the most work a kill can lose
FAST_SHARD_ROWS = 16384  # a fast encoder's shards grow up to this, each under a second of work
_FAST_SECONDS = 0.5  # a shard whose encode took less than this doubles the next one


class EmbeddingStore(Maintenance):
    """A content-addressed, resumable on-disk cache of embeddings, one row at a time.

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
    >>> store.get_or_compute(Tiny(), ["a", "bcd"]).to_numpy()
    array([[1., 1.],
           [3., 1.]], dtype=float32)
    >>> store.lookup(Tiny(), ["bcd", "a", "a"]).n  # any subset or reordering is a hit
    3
    """

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = cache_dir() if root is None else Path(root).expanduser()

    def __repr__(self) -> str:
        return f"EmbeddingStore(root={str(self.root)!r})"

    @property
    def _base(self) -> Path:
        return self.root / f"v{ROW_FORMAT_VERSION}"

    @property
    def _index(self) -> Index:
        return Index(self._base)

    @property
    def _v1(self) -> V1Store:
        return V1Store(self.root)

    # ---------------------------------------------------------------- requests
    def _prepare(self, encoder: Any, inputs: Sequence[Any], dtype: Any) -> dict[str, Any]:
        texts, hashes, digest = row_digests(inputs)
        dtype = normalize_dtype(dtype)
        ekey = encoder_key(encoder)
        name = str(getattr(encoder, "name", type(encoder).__name__))
        dim = getattr(encoder, "dim", None)
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
            raise InputError(f"Encoder {name!r} has dim={dim!r}; expected a positive int.")
        kid = key_id(ekey, dtype)
        meta = {
            "key_id": kid,
            "key_json": canonical_json(ekey),
            "encoder_key": ekey,
            "name": name,
            "encoder_name": name,
            "dim": int(dim),
            "dtype": dtype,
            "pooling": str(getattr(encoder, "pooling", "mean")),
            "created": now(),
        }
        set_key = hashlib.sha256(f"{kid}:{digest}".encode()).hexdigest()
        return {"texts": texts, "hashes": hashes, "digest": digest, "meta": meta, "key": set_key}

    def _known(self, meta: dict[str, Any]) -> int | None:
        """The encoder key's id in the index (``None`` if new); refuse one that disagrees."""
        if not (self._base / "index.sqlite").exists():
            return None
        rec = self._index.encoder(meta["key_id"])
        if rec is None:
            return None
        for field in ("dim", "pooling"):
            if rec[field] != meta[field]:
                raise CacheError(
                    f"Cache key {meta['key_id']} does not match this encoder: the cache has "
                    f"{field}={rec[field]!r}, the encoder {field}={meta[field]!r}. The encoder's "
                    "key() leaves out something that changes its output; `headwise cache remove "
                    f"{meta['key_id']}` deletes the cached rows."
                )
        return int(rec["id"])

    def _set(self, req: dict[str, Any], enc: int, found: Any) -> EmbeddingSet:
        records = self._index.shards(enc, ids=np.unique(found.shard).tolist())
        folder = self._key_dir(req["meta"]["key_id"])
        if not is_real_dir(folder):
            raise CacheError(
                f"Cache folder {folder} is a symlink or missing; the cache never follows links. "
                "Run `headwise cache verify --repair`; the next run recomputes those rows."
            )
        return EmbeddingSet(folder, req["meta"], req["key"], records, found.shard, found.pos,
                            found.length)

    def _key_dir(self, kid: str) -> Path:
        return self._base / kid

    def _record(self, req: dict[str, Any], enc: int, name: str | None) -> None:
        try:
            self._index.record_dataset(enc, req["digest"], name or "", b"".join(req["hashes"]), now())
        except CacheError:
            if not self._writable():
                return  # a read-only cache still serves hits; usage just goes unrecorded
            raise

    def _writable(self) -> bool:
        return os.access(self._base, os.W_OK)

    def _cached(self, req: dict[str, Any], name: str | None) -> EmbeddingSet | None:
        """The set when every row of ``req`` is in the row index already (the use recorded,
        under ``name``), else None."""
        enc = self._known(req["meta"])
        if enc is None:
            return None
        found = self._index.lookup(enc, req["hashes"])
        if found.missing.size:
            return None
        self._record(req, enc, name)
        s = self._set(req, enc, found)
        s.check()
        return s

    # ---------------------------------------------------------------- public
    def lookup(
        self, encoder: Any, inputs: Sequence[Any], *, dtype: str = "float32"
    ) -> EmbeddingSet | None:
        """Return the embeddings if every row is cached (v1 entries count), else ``None``.

        Never computes. Rows served from a v1 entry are migrated into the row index first,
        which writes to the cache.
        """
        req = self._prepare(encoder, inputs, dtype)
        if (hit := self._cached(req, None)) is not None:
            return hit
        v1 = self._v1.find(req["meta"]["encoder_key"], req["meta"]["dtype"], req["digest"])
        if v1 is None:
            return None
        return self.get_or_compute(_NoEncoder(req["meta"]), req["texts"], dtype=dtype)

    def get_or_compute(
        self,
        encoder: Any,
        inputs: Sequence[Any],
        *,
        batch_size: int = 32,
        dtype: str = "float32",
        shard_size: int | None = None,
        progress: bool | None = None,
        name: str | None = None,
    ) -> EmbeddingSet:
        """Return the embeddings of ``inputs``, computing and caching only the rows not cached.

        Rows are looked up by content hash within the encoder's key; missing rows are encoded
        once each (duplicates included) in shards of at most ``shard_size`` rows (capped at 256),
        each written atomically and committed to the index with its rows, so an interrupted run
        resumes where it stopped and loses at most one shard: 256 rows, or, where a 256-row
        shard took under half a second to encode and ``shard_size`` is left unset, shards that
        double (up to 16,384 rows) while each still takes under half a second. A v1 entry for
        exactly these inputs is migrated, not recomputed. ``name`` labels the dataset in
        ``headwise cache list``.

        Raises
        ------
        InputError
            Empty or non-text inputs; encoder output of the wrong shape or with NaN/inf.
        CacheError
            A damaged shard or index; the message names the command that repairs it.
        OutputError
            The cache cannot be written (read-only, permission, disk full).
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        grow = shard_size is None
        shard_size = min(check_positive_int(MAX_SHARD_ROWS if grow else shard_size, "shard_size"),
                         MAX_SHARD_ROWS)
        req = self._prepare(encoder, inputs, dtype)
        if (hit := self._cached(req, name)) is not None:
            return hit
        meta = req["meta"]
        make_dir(self._base, self.root)
        with flock(self._base / ".lock", shared=True):
            enc = self._index.add_encoder(meta)
            folder = make_dir(self._key_dir(meta["key_id"]), self.root)
            with flock(folder / ".lock"):
                self._clean_strays(enc, folder)
                found = self._index.lookup(enc, req["hashes"])
                if found.missing.size:
                    self._migrate_v1(req, enc, folder, found)
                    found = self._index.lookup(enc, req["hashes"])
                if found.missing.size:
                    self._compute(encoder, req, enc, folder, found.missing, batch_size,
                                  shard_size, progress, grow)
                    found = self._index.lookup(enc, req["hashes"])
        if found.missing.size:  # pragma: no cover - the index lost rows we just committed
            raise CacheError(f"Cache index {self._index.path} lost rows while writing; run again.")
        self._record(req, enc, name)
        s = self._set(req, enc, found)
        s.check()
        return s

    def _compute(
        self,
        encoder: Any,
        req: dict[str, Any],
        enc: int,
        folder: Path,
        missing: np.ndarray,
        batch_size: int,
        shard_size: int,
        progress: bool | None,
        grow: bool,
    ) -> None:
        hashes, texts, meta = req["hashes"], req["texts"], req["meta"]
        first: dict[bytes, int] = {}
        copies: Counter[bytes] = Counter()
        for i in missing.tolist():
            first.setdefault(hashes[i], i)
            copies[hashes[i]] += 1
        todo = np.fromiter(first.values(), dtype=np.int64, count=len(first))
        n = len(texts)
        size, a = shard_size, 0
        with progress_bar(n, f"Embedding with {meta['name']}", enabled=progress) as bar:
            bar.advance(n - missing.size)
            while a < todo.size:
                at = todo[a : a + size]
                a += at.size
                chunk = [hashes[i] for i in at]
                t0 = time.perf_counter()
                out = encoder.encode([texts[i] for i in at], batch_size=batch_size, progress=False)
                fast = time.perf_counter() - t0 < _FAST_SECONDS
                self._commit(enc, folder, meta, chunk, out, at)
                bar.advance(sum(copies[h] for h in chunk))
                if grow and fast and at.size == size:
                    size = min(2 * size, FAST_SHARD_ROWS)  # a kill still loses under a second

    def _clean_strays(self, enc: int, folder: Path) -> list[str]:
        """Remove what a killed writer of this key left (temp files, unindexed shards).

        Safe only under the key's lock: every other writer of this key is then waiting, and
        maintenance (which holds the store lock exclusively) cannot run.
        """
        names = {r.name for r in self._index.shards(enc)}
        gone = []
        for p in folder.iterdir():
            stray = is_temp_name(p.name) or (SHARD_NAME.fullmatch(p.name) and p.name not in names)
            if stray and safe_unlink(p):
                gone.append(p.name)
        return gone

    def _commit(
        self, enc: int, folder: Path, meta: dict[str, Any], hashes: list[bytes], out: Any,
        at: np.ndarray,
    ) -> None:
        vectors, offsets = check_output(out, meta, at)
        if offsets is None:
            pos, length = np.arange(len(hashes)), np.ones(len(hashes), dtype=np.int64)
        else:
            pos, length = offsets[:-1], np.diff(offsets)
        rec = write_shard(folder, vectors)
        rec["created"] = now()
        self._index.add_shard(enc, rec, hashes, pos.tolist(), length.tolist())

    def _migrate_v1(self, req: dict[str, Any], enc: int, folder: Path, found: Any) -> None:
        """Import the rows of a v1 entry for exactly these inputs (never recomputed)."""
        meta = req["meta"]
        old = self._v1.find(meta["encoder_key"], meta["dtype"], req["digest"])
        if old is None:
            return
        missing = found.missing
        first: dict[bytes, int] = {}
        for i in missing.tolist():
            first.setdefault(req["hashes"][i], i)
        todo = np.fromiter(first.values(), dtype=np.int64, count=len(first))
        for a in range(0, todo.size, MAX_SHARD_ROWS):
            at = todo[a : a + MAX_SHARD_ROWS]
            out: Any
            if meta["pooling"] == "tokens":
                out = old.token_embeddings(at)
            else:
                out = old.take(at)
            self._commit(enc, folder, meta, [req["hashes"][i] for i in at], out, at)


class _NoEncoder:
    """Stands in for an encoder when every missing row comes from a v1 entry."""

    def __init__(self, meta: dict[str, Any]) -> None:
        self.name, self.dim, self.pooling = meta["name"], meta["dim"], meta["pooling"]
        self._key = meta["encoder_key"]

    def key(self) -> dict[str, Any]:
        return dict(self._key)

    def encode(self, inputs: Any, **kwargs: Any) -> Any:
        raise CacheError("A v1 cache entry could not be migrated; run the embed again.")

