"""V1Set: a complete v1 (per-dataset) cache entry, read through memory-mapped shards.

Only read now: the v2 store migrates such an entry into its row index on first use."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import CacheError
from ..tokens import TokenEmbeddings
from ._io import damaged_shard_error, shard_problem
from ._set import EmbeddingSet

__all__ = ["V1Set"]

_OPEN_SHARDS = 8  # memory maps kept open per set (each holds a file descriptor)


class V1Set(EmbeddingSet):
    """Embeddings of one cache entry, in input order, read from memory-mapped ``.npy`` shards.

    Nothing is loaded until asked for: :meth:`shards` streams the stored arrays, :meth:`take`
    and :meth:`iter_batches` read only the rows they need, :meth:`to_numpy` concatenates all.
    Rows come back as float32 whatever the storage dtype. Entries made with ``pooling="tokens"``
    hold a variable number of vectors per input; read them with :meth:`token_embeddings`.
    It is an :class:`EmbeddingSet` (length, repr, index checks and ``np.asarray`` are shared);
    only where the rows live differs.

    Attributes
    ----------
    key : str
        Full hex cache key; ``entry_id`` is its first 24 characters and names the directory.
    encoder_key : dict
        The encoder's ``key()`` the entry was computed with.
    n, dim : int
        Number of inputs and embedding width.
    dtype : numpy.dtype
        Storage dtype (float32 or float16).
    """

    _noun = "Cache entry"  # how the shared row/token checks name it

    def __init__(self, path: Path, manifest: dict[str, Any]) -> None:
        self.path = Path(path)
        self.entry_id = self.path.name
        self.key: str = manifest["key"]
        self.encoder_key: dict[str, Any] = manifest["encoder_key"]
        self.encoder_name: str = manifest["encoder_name"]
        self.n: int = manifest["n"]
        self.dim: int = manifest["dim"]
        self.dtype = np.dtype(manifest["dtype"])
        self.pooling: str = manifest["pooling"]
        self._shards = sorted(manifest["shards"], key=lambda s: s["index"])
        bounds = [(s["start"], s["stop"]) for s in self._shards]
        expected_starts = [0] + [stop for _, stop in bounds[:-1]]
        if [a for a, _ in bounds] != expected_starts or not bounds or bounds[-1][1] != self.n:
            raise CacheError(
                f"Cache entry {self.entry_id} has a corrupt manifest (its shards do not cover "
                f"rows 0..{self.n}). Run `headwise cache verify --repair`."
            )
        self._starts = np.array([a for a, _ in bounds], dtype=np.int64)
        self._open: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._token_offsets: np.ndarray | None = None
        if self.pooling == "tokens":
            counts = [s.get("n_tokens") for s in self._shards]
            if not all(isinstance(c, int) and c >= 0 for c in counts):
                raise CacheError(
                    f"Cache entry {self.entry_id} has a corrupt manifest (a token shard lacks "
                    "n_tokens). Run `headwise cache verify --repair`."
                )
            self._token_starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
            self.n_tokens = int(sum(counts))

    # ---------------------------------------------------------------- shard access
    def _load(self, i: int, file_no: int, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        shard = self._shards[i]
        path = self.path / shard["files"][file_no]["name"]
        try:
            arr: np.ndarray = np.load(
                path, mmap_mode="r" if np.prod(shape) else None, allow_pickle=False
            )
        except FileNotFoundError:
            problem = f"is missing (expected file {path.name})"
            raise damaged_shard_error(self.entry_id, shard["index"], problem) from None
        except (OSError, ValueError, EOFError) as exc:
            problem = shard_problem(self.path, shard) or f"is corrupt ({path.name}: {exc})"
            raise damaged_shard_error(self.entry_id, shard["index"], problem) from None
        if arr.shape != shape or arr.dtype != np.dtype(dtype):
            raise damaged_shard_error(
                self.entry_id,
                shard["index"],
                f"is corrupt ({path.name} holds {arr.dtype} {arr.shape}, expected "
                f"{np.dtype(dtype)} {shape})",
            )
        return arr

    def _vectors(self, i: int) -> np.ndarray:
        with self._lock:
            if i in self._open:
                self._open.move_to_end(i)
                return self._open[i]
        shard = self._shards[i]
        rows = shard["n_tokens"] if self.pooling == "tokens" else shard["stop"] - shard["start"]
        arr = self._load(i, 0, (rows, self.dim), self.dtype)
        with self._lock:
            self._open[i] = arr
            while len(self._open) > _OPEN_SHARDS:
                self._open.popitem(last=False)
        return arr

    def shards(self) -> Iterator[np.ndarray]:
        """Yield each shard's stored array, memory-mapped, in input order.

        Rows are embeddings of consecutive inputs (token vectors for ``pooling="tokens"``),
        in the storage dtype. Out-of-core consumers stream these.
        """
        for i in range(len(self._shards)):
            yield self._vectors(i)

    def _gather(self, rows: np.ndarray, starts: np.ndarray) -> np.ndarray:
        out = np.empty((rows.shape[0], self.dim), dtype=np.float32)
        if rows.shape[0] == 0:
            return out
        shard_of = np.searchsorted(starts, rows, side="right") - 1
        order = np.argsort(shard_of, kind="stable")
        sorted_shards = shard_of[order]
        cuts = np.flatnonzero(np.diff(sorted_shards)) + 1
        for group in np.split(order, cuts):
            s = int(shard_of[group[0]])
            out[group] = self._vectors(s)[rows[group] - starts[s]]
        return out

    # ---------------------------------------------------------------- row access
    def _rows(self, idx: np.ndarray) -> np.ndarray:
        """The rows at ``idx``: row ``i`` lives in the shard whose start is the last <= ``i``."""
        return self._gather(idx, self._starts)

    def to_numpy(self, dtype: Any = np.float32) -> np.ndarray:
        """Return all embeddings as one ``(n, dim)`` array (float32 unless asked otherwise)."""
        self._require_rows("to_numpy()")
        out = np.empty((self.n, self.dim), dtype=dtype)
        for i, shard in enumerate(self._shards):
            out[shard["start"] : shard["stop"]] = self._vectors(i)
        return out

    # ---------------------------------------------------------------- token entries
    @property
    def token_offsets(self) -> np.ndarray:
        """``(n + 1,)`` int64 offsets into the concatenated token vectors of all shards."""
        self._require_tokens()
        if self._token_offsets is None:
            parts = [np.zeros(1, dtype=np.int64)]
            for i, shard in enumerate(self._shards):
                rows = shard["stop"] - shard["start"]
                local = self._load(i, 1, (rows + 1,), np.int64)
                if local[0] != 0 or local[-1] != shard["n_tokens"] or np.any(np.diff(local) < 0):
                    raise damaged_shard_error(
                        self.entry_id, shard["index"], "is corrupt (offsets are inconsistent)"
                    )
                parts.append(np.asarray(local[1:]) + self._token_starts[i])
            self._token_offsets = np.concatenate(parts)
        return self._token_offsets

    def token_embeddings(self, indices: Any = None) -> TokenEmbeddings:
        """Return the token vectors (float32) of the inputs at ``indices`` (all by default)."""
        offsets = self.token_offsets
        idx = np.arange(self.n) if indices is None else self._check_indices(indices)
        lengths = offsets[idx + 1] - offsets[idx]
        new_offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        tokens = np.repeat(offsets[idx] - new_offsets[:-1], lengths) + np.arange(new_offsets[-1])
        return TokenEmbeddings(self._gather(tokens, self._token_starts), new_offsets)
