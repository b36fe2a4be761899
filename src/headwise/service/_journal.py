"""The durable write log: one SQLite database (WAL, ``synchronous=FULL``) per service.

Every accepted write is one transaction, committed (and so on disk) before the service replies:
the labelled rows themselves (``examples``), what the write did to each model (``events``: add or
remove a row, in order) and the version it made (``versions``). A model at version ``v`` is its
base file plus the rows added and not removed by the events up to ``v``, so a restart rebuilds
exactly what was acknowledged, and a rollback is just more events. ``snapshots`` lists statistics
snapshots (files written with the atomic writer) that let a restart skip most of the log.

No FastAPI here; :class:`Journal` is safe to share between threads (one lock, one connection).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import fits_int64
from ..exceptions import HeadwiseError, OutputError
from ._errors import Conflict, NotFound

__all__ = ["Journal", "LoggedRow", "NewRow", "JOURNAL_NAME"]

JOURNAL_NAME = "journal.sqlite"
_SCHEMA_VERSION = "1"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY, base_digest TEXT NOT NULL, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS examples (
    id INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, label TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('train', 'calibration')), dim INTEGER NOT NULL,
    x BLOB, text TEXT, version INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, version INTEGER NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('add', 'remove')), example_id INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_model ON events (model, seq);
CREATE TABLE IF NOT EXISTS versions (
    model TEXT NOT NULL, version INTEGER NOT NULL, created REAL NOT NULL, action TEXT NOT NULL,
    detail TEXT NOT NULL, n_train INTEGER NOT NULL, n_calibration INTEGER NOT NULL,
    PRIMARY KEY (model, version));
CREATE TABLE IF NOT EXISTS snapshots (
    model TEXT NOT NULL, version INTEGER NOT NULL, path TEXT NOT NULL,
    PRIMARY KEY (model, version));
"""


@dataclass(frozen=True)
class NewRow:
    label: Any  # a JSON scalar: str or int
    role: str  # "train" or "calibration"
    x: np.ndarray  # (d,) float64 embedding
    text: str | None  # the text it was embedded from, when it came as text


@dataclass(frozen=True)
class LoggedRow:
    id: int
    label: Any
    role: str
    x: np.ndarray | None  # None once purged
    text: str | None
    version: int  # the version that added it


class Journal:
    """The SQLite log of one service (see the module docstring).

    ``read_only=True`` opens an existing database without writing to it.
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._lock = threading.Lock()
        try:
            if read_only:
                uri = f"file:{self.path}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._hold_lock()
                self._db = sqlite3.connect(
                    self.path, check_same_thread=False, isolation_level=None
                )
                mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise OutputError(
                        f"Journal {self.path} cannot use write-ahead logging (got {mode}); put "
                        "--state-dir on a local file system."
                    )
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.executescript(_SCHEMA)
                self._db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (_SCHEMA_VERSION,)
                )
            found = self._db.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()
        except sqlite3.Error as exc:
            raise OutputError(
                f"Journal {self.path} cannot be opened ({exc}); check that --state-dir is a "
                "writable local folder (or start with --read-only)."
            ) from None
        except OSError as exc:
            raise OutputError(f"Journal folder {self.path.parent} cannot be made ({exc}).") from None
        if found is None or found[0] != _SCHEMA_VERSION:
            raise HeadwiseError(
                f"Journal {self.path} has schema {found and found[0]}; this headwise reads "
                f"{_SCHEMA_VERSION}. Upgrade headwise or move the state folder away."
            )

    def _hold_lock(self) -> None:
        """One writing service per state folder: a second one would fork the model's history."""
        import fcntl

        self._lock_fh = open(self.path.parent / "writer.lock", "a+b")  # noqa: SIM115
        try:
            fcntl.flock(self._lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_fh.close()
            raise HeadwiseError(
                f"Another `headwise serve` is writing to {self.path.parent}; stop it, give this "
                "one another --state-dir, or start it with --read-only."
            ) from None

    # ---------------------------------------------------------------- reads
    def _all(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    def ping(self) -> None:
        self._all("SELECT 1")

    def register_model(self, name: str, base_digest: str, n_calibration: int) -> int:
        """The model's current version; a new model starts at version 0 (its base file)."""
        row = self._all("SELECT base_digest, version FROM models WHERE name = ?", (name,))
        if row:
            digest, version = row[0]
            if digest != base_digest:
                raise HeadwiseError(
                    f"The head file of model '{name}' changed since the service logged writes "
                    f"for it in {self.path}. Restore the original file, or move the state folder "
                    "away to start a new log for the new file."
                )
            return int(version)
        if self.read_only:
            return 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("INSERT INTO models VALUES (?, ?, 0)", (name, base_digest))
                self._db.execute(
                    "INSERT INTO versions VALUES (?, 0, ?, 'base', '{}', 0, ?)",
                    (name, time.time(), n_calibration),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return 0

    def events(self, name: str, upto: int | None = None) -> list[tuple[int, str, int]]:
        """``(version, op, example_id)`` in log order, up to version ``upto`` if given."""
        sql = "SELECT version, op, example_id FROM events WHERE model = ?"
        args: list[Any] = [name]
        if upto is not None:
            sql += " AND version <= ?"
            args.append(upto)
        return [(int(v), str(op), int(i)) for v, op, i in self._all(sql + " ORDER BY seq", args)]

    def rows(self, name: str, ids: Iterable[int]) -> dict[int, LoggedRow]:
        wanted = sorted(set(ids))
        out: dict[int, LoggedRow] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for i, label, role, dim, x, text, version in self._all(
                "SELECT id, label, role, dim, x, text, version FROM examples "
                f"WHERE model = ? AND id IN ({marks})",
                [name, *chunk],
            ):
                vec = None if x is None else np.frombuffer(x, dtype="<f8").reshape(int(dim))
                out[int(i)] = LoggedRow(int(i), json.loads(label), role, vec, text, int(version))
        return out

    def example_model(self, example_id: int) -> str | None:
        if not fits_int64(example_id):  # beyond SQLite's integers: no such row
            return None
        row = self._all("SELECT model FROM examples WHERE id = ?", (example_id,))
        return str(row[0][0]) if row else None

    def label_counts(self, name: str) -> dict[str, int]:
        """Examples ever posted per label (JSON-encoded), deleted ones included."""
        rows = self._all(
            "SELECT label, COUNT(*) FROM examples WHERE model = ? GROUP BY label", (name,)
        )
        return {str(label): int(n) for label, n in rows}

    def versions(self, name: str, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` versions, oldest first."""
        rows = self._all(
            "SELECT version, created, action, detail, n_train, n_calibration FROM versions "
            "WHERE model = ? ORDER BY version DESC LIMIT ?",
            (name, limit),
        )
        return [
            {
                "version": int(v), "created": float(c), "action": a, "detail": json.loads(d),
                "n_train": int(nt), "n_calibration": int(nc),
            }
            for v, c, a, d, nt, nc in reversed(rows)
        ]  # fmt: skip

    def snapshots(self, name: str) -> list[tuple[int, str]]:
        rows = self._all(
            "SELECT version, path FROM snapshots WHERE model = ? ORDER BY version DESC", (name,)
        )
        return [(int(v), str(p)) for v, p in rows]

    # ---------------------------------------------------------------- writes
    def commit(
        self,
        name: str,
        *,
        expected_version: int,
        action: str,
        detail: dict[str, Any],
        new_rows: Sequence[NewRow] = (),
        add_ids: Sequence[int] = (),
        remove_ids: Sequence[int] = (),
        purge_ids: Sequence[int] = (),
        n_train: int,
        n_calibration: int,
    ) -> tuple[int, list[int]]:
        """One durable transaction: new rows, add/remove events, the new version.

        Returns ``(version, ids of the new rows)``. When this returns, the write is on disk
        (WAL with ``synchronous=FULL`` fsyncs the log at commit).
        """
        if self.read_only:
            raise Conflict("The journal is open read-only.")
        now = time.time()
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    (current,) = self._db.execute(
                        "SELECT version FROM models WHERE name = ?", (name,)
                    ).fetchone()
                    if int(current) != expected_version:
                        raise Conflict(
                            f"Model '{name}' moved to version {current} during this write.",
                            "Retry the request.",
                        )
                    version = expected_version + 1
                    ids: list[int] = []
                    for r in new_rows:
                        x = np.ascontiguousarray(r.x, dtype="<f8")
                        cur = self._db.execute(
                            "INSERT INTO examples (model, label, role, dim, x, text, version, "
                            "created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (name, json.dumps(r.label), r.role, x.size, x.tobytes(), r.text,
                             version, now),
                        )  # fmt: skip
                        ids.append(int(cur.lastrowid))  # type: ignore[arg-type]
                    events = [("add", i) for i in [*ids, *add_ids]]
                    events += [("remove", i) for i in remove_ids]
                    self._db.executemany(
                        "INSERT INTO events (model, version, op, example_id) VALUES (?, ?, ?, ?)",
                        [(name, version, op, i) for op, i in events],
                    )
                    if purge_ids:
                        self._db.executemany(
                            "UPDATE examples SET x = NULL, text = NULL WHERE id = ?",
                            [(i,) for i in purge_ids],
                        )
                    self._db.execute(
                        "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (name, version, now, action, json.dumps(detail), n_train, n_calibration),
                    )
                    self._db.execute(
                        "UPDATE models SET version = ? WHERE name = ?", (version, name)
                    )
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise OutputError(
                    f"The write could not be committed to {self.path} ({exc}); nothing was "
                    "changed. Check the disk and retry."
                ) from None
        return version, ids

    def record_snapshot(self, name: str, version: int, path: str, keep: int = 2) -> list[str]:
        """Register a snapshot file; returns the paths of older snapshots no longer listed."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?)", (name, version, path)
                )
                old = self._db.execute(
                    "SELECT version, path FROM snapshots WHERE model = ? ORDER BY version DESC "
                    "LIMIT -1 OFFSET ?",
                    (name, keep),
                ).fetchall()
                self._db.executemany(
                    "DELETE FROM snapshots WHERE model = ? AND version = ?",
                    [(name, v) for v, _ in old],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return [str(p) for _, p in old]

    def require_example(self, name: str, example_id: int) -> None:
        if self.example_model(example_id) != name:
            raise NotFound(
                f"Model '{name}' has no example {example_id}.",
                f"GET /v1/models/{name}/examples lists its examples.",
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
            lock = getattr(self, "_lock_fh", None)
            if lock is not None:
                lock.close()  # releases the writer lock
