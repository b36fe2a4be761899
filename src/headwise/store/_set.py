"""EmbeddingSet: the rows of one dataset, gathered lazily from memory-mapped shards."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InputError
from ..tokens import TokenEmbeddings
from ._index import ShardRecord
from ._shards import load_shard

__all__ = ["EmbeddingSet", "TokenArrays"]

_OPEN_SHARDS = 64  # memory maps kept open per set (each holds a file descriptor)
_BLOCK = 4096  # rows per block yielded by shards()


TokenArrays = TokenEmbeddings  # the one token container (headwise.tokens); the old name stays importable


class EmbeddingSet:
    """Embeddings of a list of inputs, in input order, read from memory-mapped ``.npy`` shards.

    Rows are stored once per encoder key, by content; a set is the list of where each of its
    rows lives. Nothing is loaded until asked for: :meth:`take` and :meth:`iter_batches` read
    only the shards holding the rows they need, :meth:`to_numpy` gathers all. Every shard is
    checked (size, sha256, finite values) before its first use in a process. Rows come back as
    float32 whatever the storage dtype. Sets made with ``pooling="tokens"`` hold a variable
    number of vectors per input; read them with :meth:`token_embeddings`.

    Attributes
    ----------
    key : str
        Hex digest naming this set (encoder key and the inputs' content, in order);
        ``entry_id`` is its first 24 characters.
    key_id : str
        The encoder key's id; its shards live in ``path``.
    encoder_key : dict
        The encoder's ``key()`` the vectors were computed with.
    n, dim : int
        Number of inputs and embedding width.
    dtype : numpy.dtype
        Storage dtype (float32 or float16).
    """

    _noun = "Embedding set"  # how messages name this kind of set

    def __init__(
        self,
        path: Path,
        meta: dict[str, Any],
        key: str,
        shard_records: list[ShardRecord],
        shard_ids: np.ndarray,
        pos: np.ndarray,
        length: np.ndarray,
    ) -> None:
        self.path = Path(path)
        self.key = key
        self.entry_id = key[:24]
        self.key_id: str = meta["key_id"]
        self.encoder_key: dict[str, Any] = meta["encoder_key"]
        self.encoder_name: str = meta["name"]
        self.dim: int = int(meta["dim"])
        self.dtype = np.dtype(meta["dtype"])
        self.pooling: str = meta["pooling"]
        self.n = int(shard_ids.shape[0])
        self._records = shard_records
        ids = np.array([r.id for r in shard_records], dtype=np.int64)
        order = np.argsort(ids)
        self._slot = order[np.searchsorted(ids[order], shard_ids)] if self.n else ids[:0]
        self._pos = pos.astype(np.int64)
        self._len = length.astype(np.int64)
        self._open: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        if self.pooling == "tokens":
            self.n_tokens = int(self._len.sum())

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return (
            f"EmbeddingSet(id={self.entry_id!r}, encoder={self.encoder_name!r}, n={self.n}, "
            f"dim={self.dim}, dtype={self.dtype.name}, pooling={self.pooling!r})"
        )

    # ---------------------------------------------------------------- shard access
    def _vectors(self, slot: int) -> np.ndarray:
        with self._lock:
            if slot in self._open:
                self._open.move_to_end(slot)
                return self._open[slot]
        arr = load_shard(self.path, self.key_id, self._records[slot], self.dim, self.dtype)
        with self._lock:
            self._open[slot] = arr
            while len(self._open) > _OPEN_SHARDS:
                self._open.popitem(last=False)
        return arr

    def check(self) -> None:
        """Check every shard this set uses (sha256 and finite values, once per process)."""
        for slot in np.unique(self._slot):
            self._vectors(int(slot))

    def _rows(self, idx: np.ndarray) -> np.ndarray:
        """The float32 rows of the inputs at ``idx`` (checked indices): where they live is the
        one thing a kind of set defines (here: a shard slot and a position per input)."""
        return self._gather(self._slot[idx], self._pos[idx])

    def _gather(self, slots: np.ndarray, pos: np.ndarray) -> np.ndarray:
        out = np.empty((slots.shape[0], self.dim), dtype=np.float32)
        if slots.shape[0] == 0:
            return out
        order = np.argsort(slots, kind="stable")
        cuts = np.flatnonzero(np.diff(slots[order])) + 1
        for group in np.split(order, cuts):
            out[group] = self._vectors(int(slots[group[0]]))[pos[group]]
        return out

    def shards(self) -> Iterator[np.ndarray]:
        """Yield the rows in input order as blocks of at most 4,096, in the storage dtype.

        Out-of-core consumers stream these; only one block is in memory at a time.
        """
        self._require_rows("shards()")
        for a in range(0, self.n, _BLOCK):
            b = min(a + _BLOCK, self.n)
            yield self._gather(self._slot[a:b], self._pos[a:b]).astype(self.dtype, copy=False)

    # ---------------------------------------------------------------- row access
    def _require_rows(self, what: str) -> None:
        if self.pooling == "tokens":
            raise InputError(
                f"{self._noun} {self.entry_id} holds per-token embeddings (pooling='tokens'), so "
                f"rows have different lengths and {what} is not defined. Use "
                "token_embeddings(indices), or embed with a pooled encoder."
            )

    def _check_indices(self, indices: Any) -> np.ndarray:
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (self.n,):
                raise InputError(
                    f"A boolean mask must have shape ({self.n},), got {idx.shape} instead."
                )
            return np.flatnonzero(idx)
        if idx.size == 0:
            return np.zeros(0, dtype=np.int64)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise InputError(
                f"indices must be a 1-D array of integers, got {idx.dtype} of shape {idx.shape}."
            )
        idx = idx.astype(np.int64)
        if idx.min() < -self.n or idx.max() >= self.n:
            bad = int(idx[(idx < -self.n) | (idx >= self.n)][0])
            raise InputError(f"Index {bad} is out of range for an EmbeddingSet of {self.n} rows.")
        return np.where(idx < 0, idx + self.n, idx)

    def take(self, indices: Any) -> np.ndarray:
        """Return the rows at ``indices`` (ints or a boolean mask), in that order, as float32."""
        self._require_rows("take()")
        return self._rows(self._check_indices(indices))

    def iter_batches(self, batch_size: int, indices: Any = None) -> Iterator[np.ndarray]:
        """Yield float32 batches of at most ``batch_size`` rows, in order (or in ``indices`` order)."""
        self._require_rows("iter_batches()")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 1:
            raise InputError(f"batch_size must be a positive int, got {batch_size!r} instead.")
        idx = np.arange(self.n) if indices is None else self._check_indices(indices)
        for a in range(0, idx.shape[0], batch_size):
            yield self._rows(idx[a : a + batch_size])

    def to_numpy(self, dtype: Any = np.float32) -> np.ndarray:
        """Return all embeddings as one ``(n, dim)`` array (float32 unless asked otherwise)."""
        self._require_rows("to_numpy()")
        return self._gather(self._slot, self._pos).astype(dtype, copy=False)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if copy is False:
            raise ValueError("An EmbeddingSet cannot be viewed as an array without copying.")
        return self.to_numpy(np.float32 if dtype is None else dtype)

    # ---------------------------------------------------------------- token sets
    def _require_tokens(self) -> None:
        if self.pooling != "tokens":
            raise InputError(
                f"{self._noun} {self.entry_id} holds pooled embeddings (pooling="
                f"{self.pooling!r}), not per-token ones; use take() or to_numpy()."
            )

    @property
    def token_offsets(self) -> np.ndarray:
        """``(n + 1,)`` int64 offsets into the concatenated token vectors of all inputs."""
        self._require_tokens()
        return np.concatenate([[0], np.cumsum(self._len)]).astype(np.int64)

    def token_embeddings(self, indices: Any = None) -> TokenEmbeddings:
        """Return the token vectors (float32) of the inputs at ``indices`` (all by default)."""
        self._require_tokens()
        idx = np.arange(self.n) if indices is None else self._check_indices(indices)
        lengths = self._len[idx]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        within = np.arange(offsets[-1]) - np.repeat(offsets[:-1], lengths)
        slots = np.repeat(self._slot[idx], lengths)
        pos = np.repeat(self._pos[idx], lengths) + within
        return TokenEmbeddings(self._gather(slots, pos), offsets)
