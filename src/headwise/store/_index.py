"""The row index: SQLite in WAL mode maps (encoder key, row content hash) to a place in a shard.

SQLite does what hand-rolled manifests did badly: a shard and the rows it holds are recorded in
one transaction (a crash leaves either both or neither), concurrent readers never block the
writer (WAL), and a million lookups are one indexed join. Vectors stay out of the database, in
memory-mapped ``.npy`` shards beside it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import CacheError

__all__ = ["INDEX_NAME", "Index", "Found", "ShardRecord", "quick_check", "replace_shard", "rows_of_shard"]

INDEX_NAME = "index.sqlite"
_TIMEOUT = 120.0  # seconds a connection waits for another writer
_CHUNK = 50_000  # hashes per temp-table round trip: bounds memory for million-row lookups

_SCHEMA = """
CREATE TABLE IF NOT EXISTS encoders(
  id INTEGER PRIMARY KEY, key_id TEXT UNIQUE NOT NULL, key_json TEXT NOT NULL, name TEXT NOT NULL,
  dim INTEGER NOT NULL, dtype TEXT NOT NULL, pooling TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS shards(
  id INTEGER PRIMARY KEY, enc INTEGER NOT NULL, name TEXT NOT NULL, n_rows INTEGER NOT NULL,
  n_vectors INTEGER NOT NULL, nbytes INTEGER NOT NULL, sha256 TEXT NOT NULL, created TEXT NOT NULL,
  UNIQUE(enc, name));
CREATE TABLE IF NOT EXISTS rows(
  enc INTEGER NOT NULL, hash BLOB NOT NULL, shard INTEGER NOT NULL, pos INTEGER NOT NULL,
  len INTEGER NOT NULL, PRIMARY KEY(enc, hash)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rows_by_shard ON rows(shard);
CREATE TABLE IF NOT EXISTS datasets(
  id INTEGER PRIMARY KEY, enc INTEGER NOT NULL, digest TEXT NOT NULL, name TEXT NOT NULL,
  n INTEGER NOT NULL, created TEXT NOT NULL, used TEXT NOT NULL, UNIQUE(enc, digest));
CREATE TABLE IF NOT EXISTS dataset_rows(id INTEGER PRIMARY KEY, hashes BLOB NOT NULL);
"""
# The layout above, stamped into ``PRAGMA user_version``. 0 is an index written before the stamp:
# its datasets table may still carry the row hashes inline (moved to dataset_rows since).
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ShardRecord:
    """One shard file as the index records it."""

    id: int
    enc: int
    name: str
    n_rows: int
    n_vectors: int  # rows for pooled keys, token vectors for pooling="tokens"
    nbytes: int
    sha256: str
    created: str


@dataclass(frozen=True)
class Found:
    """Where each requested row lives; ``shard`` is -1 for rows not in the index."""

    shard: np.ndarray  # (n,) int64 shard id
    pos: np.ndarray  # (n,) int64 first vector of the row inside its shard
    length: np.ndarray  # (n,) int64 vectors of the row (1 for pooled keys)

    @property
    def missing(self) -> np.ndarray:
        return np.flatnonzero(self.shard < 0)


def _upgrade(con: sqlite3.Connection, path: Path) -> None:
    """Bring an index written by an earlier layout to :data:`SCHEMA_VERSION`; refuse a newer one."""
    version = con.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise CacheError(
            f"Cache index {path} was written by a newer headwise (index layout {version}, this "
            f"version reads up to {SCHEMA_VERSION}). Upgrade headwise, or set HEADWISE_CACHE_DIR "
            "to another folder."
        )
    columns = {row[1] for row in con.execute("PRAGMA table_info(datasets)")}
    con.execute("BEGIN IMMEDIATE")
    try:
        if "hashes" in columns:  # row hashes inline: move them to dataset_rows, rebuild the table
            con.execute("INSERT OR REPLACE INTO dataset_rows(id, hashes) SELECT id, hashes FROM datasets")
            con.execute(
                "CREATE TABLE datasets_v1(id INTEGER PRIMARY KEY, enc INTEGER NOT NULL, "
                "digest TEXT NOT NULL, name TEXT NOT NULL, n INTEGER NOT NULL, created TEXT NOT NULL, "
                "used TEXT NOT NULL, UNIQUE(enc, digest))"
            )
            con.execute("INSERT INTO datasets_v1 SELECT id, enc, digest, name, n, created, used "
                        "FROM datasets")
            con.execute("DROP TABLE datasets")
            con.execute("ALTER TABLE datasets_v1 RENAME TO datasets")
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            con.execute("ROLLBACK")
        raise


class Index:
    """Open (and create) ``<base>/index.sqlite``; every method opens its own short connection."""

    def __init__(self, base: Path) -> None:
        self.path = base / INDEX_NAME

    def _open(self, write: bool) -> sqlite3.Connection:
        """A connection; on a read-only cache, readers fall back to an immutable snapshot."""
        try:
            return self._open_once_settled()
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if write or not ("readonly" in text or "unable to open" in text) or not self.path.is_file():
                raise
        # Read-only folder or file system: nobody can be writing, so the file is final.
        return sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True,
                               isolation_level=None)

    def _open_set_up(self) -> sqlite3.Connection:
        con = sqlite3.connect(self.path, timeout=_TIMEOUT, isolation_level=None)
        try:
            if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                con.execute("PRAGMA journal_mode=WAL")  # persistent: only the first open sets it
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("PRAGMA cache_size=-131072")  # up to 128 MiB of pages, used as needed
            con.execute("PRAGMA temp_store=MEMORY")
            con.executescript(_SCHEMA)
            _upgrade(con, self.path)
        except BaseException:
            con.close()
            raise
        return con

    def _open_once_settled(self) -> sqlite3.Connection:
        """:meth:`_open_set_up`, retried while another process or thread holds the lock that
        the first open of a fresh index needs (switching to WAL takes an exclusive lock, and
        SQLite answers "database is locked" at once there instead of waiting out the busy
        timeout): back off from 10 ms up to 0.5 s, for at most the busy timeout."""
        deadline, pause = time.monotonic() + _TIMEOUT, 0.01
        while True:
            try:
                return self._open_set_up()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(2 * pause, 0.5)

    @contextlib.contextmanager
    def connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        try:
            con = self._open(write)
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        try:
            if write:
                con.execute("BEGIN IMMEDIATE")
            yield con
            if write:
                con.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
            raise self._error(exc) from None
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    def _error(self, exc: sqlite3.Error) -> CacheError:
        text = str(exc)
        if "readonly" in text or "unable to open" in text or "disk I/O" in text:
            return CacheError(
                f"Cache index {self.path} cannot be written ({text}); the cache folder is "
                "read-only or not writable. Fix its permissions or set HEADWISE_CACHE_DIR to a "
                "writable folder."
            )
        if "full" in text:
            return CacheError(
                f"Cache index {self.path} could not be written: the disk is full; free some "
                "space and run the command again."
            )
        return CacheError(
            f"Cache index {self.path} is damaged ({text}). Run `headwise cache verify --repair`, "
            "which sets it aside and starts a fresh index (rows are then recomputed)."
        )

    # ---------------------------------------------------------------- encoders
    def encoder(self, key_id: str) -> dict[str, Any] | None:
        with self.connect() as con:
            row = con.execute(
                "SELECT id, key_id, key_json, name, dim, dtype, pooling, created FROM encoders "
                "WHERE key_id = ?",
                (key_id,),
            ).fetchone()
        if row is None:
            return None
        names = ("id", "key_id", "key_json", "name", "dim", "dtype", "pooling", "created")
        return dict(zip(names, row, strict=True))

    def add_encoder(self, meta: dict[str, Any]) -> int:
        with self.connect(write=True) as con:
            con.execute(
                "INSERT OR IGNORE INTO encoders(key_id, key_json, name, dim, dtype, pooling, "
                "created) VALUES (:key_id, :key_json, :name, :dim, :dtype, :pooling, :created)",
                meta,
            )
            (eid,) = con.execute(
                "SELECT id FROM encoders WHERE key_id = ?", (meta["key_id"],)
            ).fetchone()
        return int(eid)

    def encoders(self) -> list[dict[str, Any]]:
        with self.connect() as con:
            rows = con.execute(
                "SELECT e.id, e.key_id, e.key_json, e.name, e.dim, e.dtype, e.pooling, e.created, "
                "(SELECT count(*) FROM rows r WHERE r.enc = e.id), "
                "(SELECT coalesce(sum(nbytes), 0) FROM shards s WHERE s.enc = e.id), "
                "(SELECT count(*) FROM shards s WHERE s.enc = e.id) FROM encoders e ORDER BY e.id"
            ).fetchall()
        names = ("id", "key_id", "key_json", "name", "dim", "dtype", "pooling", "created",
                 "rows", "size_bytes", "n_shards")  # fmt: skip
        return [dict(zip(names, r, strict=True)) for r in rows]

    # ---------------------------------------------------------------- rows
    def lookup(self, enc: int | None, hashes: Sequence[bytes]) -> Found:
        """Find every hash; a large request scans the key's rows in hash order, a small one joins.

        The scan reads the key's index rows sorted by hash (the primary key's order, no sort
        needed) in chunks and matches with ``numpy.searchsorted`` on 8-byte prefixes, checking
        the full 32 bytes; a million lookups take seconds. Small requests go through a temp
        table join, 50,000 hashes per round trip.
        """
        n = len(hashes)
        found = Found(np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.int64),
                      np.zeros(n, dtype=np.int64))
        if enc is None or n == 0:
            return found
        with self.connect() as con:
            (total,) = con.execute("SELECT count(*) FROM rows WHERE enc = ?", (enc,)).fetchone()
            if total == 0:
                return found
            if n * 8 >= total:
                rest = _scan(con, enc, hashes, found)
                if rest.size:
                    _join(con, enc, [hashes[i] for i in rest], found, rest)
            else:
                _join(con, enc, hashes, found, np.arange(n))
        return found

    def add_shard(
        self,
        enc: int,
        rec: dict[str, Any],
        hashes: Sequence[bytes],
        pos: Sequence[int],
        length: Sequence[int],
    ) -> int:
        """Record a written shard file and its rows in one transaction; return the shard id."""
        with self.connect(write=True) as con:
            sid = _insert_shard(con, enc, rec, len(hashes))
            rows = sorted(zip(hashes, pos, length, strict=True))  # key order: fewer page splits
            con.executemany(
                "INSERT OR IGNORE INTO rows(enc, hash, shard, pos, len) VALUES (?, ?, ?, ?, ?)",
                ((enc, h, sid, int(p), int(ln)) for h, p, ln in rows),
            )
        return sid

    def shards(self, enc: int | None = None, ids: Sequence[int] | None = None) -> list[ShardRecord]:
        sql = "SELECT id, enc, name, n_rows, n_vectors, nbytes, sha256, created FROM shards"
        args: list[Any] = []
        if enc is not None:
            sql, args = sql + " WHERE enc = ?", [enc]
        with self.connect() as con:
            rows = con.execute(sql + " ORDER BY id", args).fetchall()
        recs = [ShardRecord(*r) for r in rows]
        if ids is not None:
            wanted = set(int(i) for i in ids)
            recs = [r for r in recs if r.id in wanted]
        return recs

    def drop_shards(self, ids: Sequence[int]) -> int:
        """Forget shards and every row they hold; return how many rows went."""
        gone = 0
        with self.connect(write=True) as con:
            for sid in ids:
                gone += con.execute("DELETE FROM rows WHERE shard = ?", (int(sid),)).rowcount
                con.execute("DELETE FROM shards WHERE id = ?", (int(sid),))
        return gone

    def drop_encoder(self, enc: int) -> None:
        with self.connect(write=True) as con:
            con.execute(
                "DELETE FROM dataset_rows WHERE id IN (SELECT id FROM datasets WHERE enc = ?)", (enc,)
            )
            for table in ("rows", "shards", "datasets"):
                con.execute(f"DELETE FROM {table} WHERE enc = ?", (enc,))  # noqa: S608
            con.execute("DELETE FROM encoders WHERE id = ?", (enc,))

    # ---------------------------------------------------------------- datasets
    def record_dataset(self, enc: int, digest: str, name: str, hashes: bytes, stamp: str) -> None:
        """Record that a dataset (its row hashes, in order) used this key; on a repeat, the time.

        The hashes live in their own table, so marking a known dataset as used rewrites one
        small row, not a blob of 32 bytes per row.
        """
        with self.connect(write=True) as con:
            row = con.execute(
                "SELECT id FROM datasets WHERE enc = ? AND digest = ?", (enc, digest)
            ).fetchone()
            if row is not None:
                con.execute(
                    "UPDATE datasets SET used = ?, name = CASE WHEN ? != '' THEN ? ELSE name END "
                    "WHERE id = ?",
                    (stamp, name, name, row[0]),
                )
                return
            cur = con.execute(
                "INSERT INTO datasets(enc, digest, name, n, created, used) VALUES (?, ?, ?, ?, ?, ?)",
                (enc, digest, name, len(hashes) // 32, stamp, stamp),
            )
            con.execute("INSERT INTO dataset_rows(id, hashes) VALUES (?, ?)", (cur.lastrowid, hashes))

    def datasets(self, enc: int | None = None) -> list[dict[str, Any]]:
        sql = "SELECT id, enc, digest, name, n, created, used FROM datasets"
        args: list[Any] = [] if enc is None else [enc]
        with self.connect() as con:
            rows = con.execute(sql + (" WHERE enc = ?" if enc is not None else "") + " ORDER BY id",
                               args).fetchall()
        names = ("id", "enc", "digest", "name", "n", "created", "used")
        return [dict(zip(names, r, strict=True)) for r in rows]

    def drop_dataset(self, dataset_id: int) -> None:
        with self.connect(write=True) as con:
            con.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,))
            con.execute("DELETE FROM dataset_rows WHERE id = ?", (dataset_id,))

    def unreferenced(self, enc: int) -> tuple[int, list[int], list[int]]:
        """Rows of ``enc`` no dataset lists: (count, shards wholly unreferenced, shards partly)."""
        with self.connect() as con:
            con.execute("CREATE TEMP TABLE ref(h BLOB PRIMARY KEY) WITHOUT ROWID")
            for (blob,) in con.execute(
                "SELECT r.hashes FROM dataset_rows r JOIN datasets d ON d.id = r.id WHERE d.enc = ?",
                (enc,),
            ).fetchall():
                con.executemany(
                    "INSERT OR IGNORE INTO ref VALUES (?)",
                    ((blob[i : i + 32],) for i in range(0, len(blob), 32)),
                )
            stats = con.execute(
                "SELECT r.shard, sum(ref.h IS NULL), count(*) FROM rows r "
                "LEFT JOIN ref ON ref.h = r.hash WHERE r.enc = ? GROUP BY r.shard",
                (enc,),
            ).fetchall()
            empty = con.execute(
                "SELECT id FROM shards WHERE enc = ? AND id NOT IN (SELECT DISTINCT shard FROM rows "
                "WHERE enc = ?)",
                (enc, enc),
            ).fetchall()
        count = sum(int(u) for _, u, _ in stats)
        whole = [int(s) for s, u, c in stats if u == c] + [int(s) for (s,) in empty]
        partly = [int(s) for s, u, c in stats if 0 < u < c]
        return count, whole, partly

    def drop_unreferenced_rows(self, enc: int, shard: int, keep: Sequence[bytes]) -> int:
        keep_set = set(keep)
        with self.connect(write=True) as con:
            hashes = [h for (h,) in con.execute(
                "SELECT hash FROM rows WHERE shard = ?", (shard,)).fetchall()]
            gone = [(enc, h) for h in hashes if h not in keep_set]
            con.executemany("DELETE FROM rows WHERE enc = ? AND hash = ?", gone)
        return len(gone)

    def referenced(self, enc: int) -> set[bytes]:
        with self.connect() as con:
            blobs = con.execute(
                "SELECT r.hashes FROM dataset_rows r JOIN datasets d ON d.id = r.id WHERE d.enc = ?",
                (enc,),
            ).fetchall()
        return {b[i : i + 32] for (b,) in blobs for i in range(0, len(b), 32)}


def rows_of_shard(index: Index, shard: int) -> list[tuple[bytes, int, int]]:
    """(hash, pos, len) of every row a shard holds, in position order."""
    with index.connect() as con:
        rows = con.execute(
            "SELECT hash, pos, len FROM rows WHERE shard = ? ORDER BY pos", (shard,)
        ).fetchall()
    return [(bytes(h), int(p), int(n)) for h, p, n in rows]


def replace_shard(
    index: Index, old: int, enc: int, rec: dict[str, Any], rows: list[tuple[bytes, int, int]]
) -> None:
    """Swap shard ``old`` for a rewritten one holding ``rows`` (hash, pos, len), atomically."""
    with index.connect(write=True) as con:
        con.execute("DELETE FROM rows WHERE shard = ?", (old,))
        con.execute("DELETE FROM shards WHERE id = ?", (old,))
        sid = _insert_shard(con, enc, rec, len(rows))
        con.executemany(
            "INSERT OR IGNORE INTO rows(enc, hash, shard, pos, len) VALUES (?, ?, ?, ?, ?)",
            ((enc, h, sid, p, n) for h, p, n in rows),
        )


def _insert_shard(con: sqlite3.Connection, enc: int, rec: dict[str, Any], n_rows: int) -> int:
    """Insert the record of a written shard file holding ``n_rows`` rows; return its id."""
    cur = con.execute(
        "INSERT INTO shards(enc, name, n_rows, n_vectors, nbytes, sha256, created) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (enc, rec["name"], n_rows, rec["n_vectors"], rec["nbytes"], rec["sha256"], rec["created"]),
    )
    return int(cur.lastrowid or 0)


def quick_check(index: Index) -> str | None:
    """``None`` if SQLite's quick_check passes, else what it found."""
    try:
        with index.connect() as con:
            (res,) = con.execute("PRAGMA quick_check").fetchone()
    except CacheError as exc:
        return str(exc)
    return None if res == "ok" else str(res)


def _join(
    con: sqlite3.Connection, enc: int, hashes: Sequence[bytes], found: Found, at: np.ndarray
) -> None:
    """Look ``hashes`` up through a temp table; results land at positions ``at`` of ``found``."""
    con.execute("CREATE TEMP TABLE IF NOT EXISTS q(i INTEGER PRIMARY KEY, h BLOB NOT NULL)")
    for a in range(0, len(hashes), _CHUNK):
        con.execute("DELETE FROM q")
        con.executemany("INSERT INTO q VALUES (?, ?)", enumerate(hashes[a : a + _CHUNK], a))
        cur = con.execute(
            "SELECT q.i, r.shard, r.pos, r.len FROM q JOIN rows r ON r.enc = ? AND r.hash = q.h",
            (enc,),
        )
        while batch := cur.fetchmany(8192):
            got = np.array(batch, dtype=np.int64)
            where = at[got[:, 0]]
            found.shard[where], found.pos[where], found.length[where] = got[:, 1], got[:, 2], got[:, 3]


def _prefix(raw: np.ndarray) -> np.ndarray:
    """The first 8 bytes of each 32-byte hash as a big-endian uint64 (so order = byte order)."""
    return raw[:, :8].copy().view(">u8").ravel()


def _scan(con: sqlite3.Connection, enc: int, hashes: Sequence[bytes], found: Found) -> np.ndarray:
    """Match ``hashes`` against every row of ``enc``; return positions whose prefix collided."""
    want = np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(len(hashes), 32)
    want_key = _prefix(want)
    cur = con.execute(
        "SELECT hash, shard, pos, len FROM rows WHERE enc = ? ORDER BY hash", (enc,)
    )
    order = np.argsort(want_key, kind="stable")
    sorted_key = want_key[order]
    collided: list[np.ndarray] = []
    while batch := cur.fetchmany(65536):
        raw = np.frombuffer(b"".join(r[0] for r in batch), dtype=np.uint8).reshape(len(batch), 32)
        key = _prefix(raw)
        meta = np.array([r[1:] for r in batch], dtype=np.int64)
        lo = int(np.searchsorted(sorted_key, key[0], side="left"))
        hi = int(np.searchsorted(sorted_key, key[-1], side="right"))
        if lo >= hi:
            continue
        cand = order[lo:hi]
        j = np.searchsorted(key, want_key[cand])
        j = np.minimum(j, key.size - 1)
        hit = key[j] == want_key[cand]
        full = hit & np.all(raw[j] == want[cand], axis=1)
        rows, src = cand[full], j[full]
        found.shard[rows], found.pos[rows], found.length[rows] = meta[src, 0], meta[src, 1], meta[src, 2]
        collided.append(cand[hit & ~full])
    rest = np.unique(np.concatenate(collided)) if collided else np.zeros(0, dtype=np.int64)
    return rest[found.shard[rest] < 0]
