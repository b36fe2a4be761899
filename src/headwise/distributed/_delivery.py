"""How vectors computed on Ray workers reach the embedding store: through the store's own API.

The driver calls :meth:`EmbeddingStore.get_or_compute` with :class:`WorkerVectors`, an encoder
stand-in that carries the real encoder's ``name``, ``dim`` and ``key()`` and answers ``encode``
with the workers' vectors for those rows (:class:`VectorStream`). The store therefore keys,
checks and writes them exactly as vectors it computed itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..exceptions import InputError
from ._read import row_key

__all__ = ["VectorStream", "WorkerVectors"]


class VectorStream:
    """Vectors from the workers, handed out by row key in the order the store asks for them.

    Rows arrive in row order, and the store asks for the rows it lacks in row order too (whole
    shards in order for set-level entries; the first copy of each missing row, ascending, for
    the row-level index). So one forward pass serves every request: rows passed over are
    already stored and are dropped, and memory stays at one batch. A request that the rest of
    the stream cannot serve fails with a message rather than storing a wrong vector.
    """

    def __init__(self, batches: Iterator[dict[str, np.ndarray]]) -> None:
        self._batches = batches
        self._keys: list[str] = []
        self._vectors: Any = None
        self._at = 0
        self.rows_received = 0
        self.rows_delivered = 0

    def _pull(self) -> bool:
        batch = next(self._batches, None)
        if batch is None:
            return False
        self._keys, self._vectors, self._at = batch["key"].tolist(), batch["vector"], 0
        self.rows_received += len(self._keys)
        return True

    def take(self, keys: list[str]) -> np.ndarray:
        out = []
        for k in keys:
            while True:
                if self._at >= len(self._keys):
                    if not self._pull():
                        raise InputError(
                            "The Ray workers' rows do not line up with the rows the store asked "
                            "for; was the data changed while it was being embedded? Run again."
                        )
                    continue
                hit = self._keys[self._at] == k
                self._at += 1
                if hit:
                    out.append(self._vectors[self._at - 1])
                    break
        self.rows_delivered += len(keys)
        return np.stack(out) if out else np.zeros((0, 0), np.float32)


class WorkerVectors:
    """The encoder as the store sees it: the real encoder's identity, vectors from the stream."""

    def __init__(self, encoder: Any, stream: VectorStream) -> None:
        self._encoder, self._stream = encoder, stream
        self.name, self.dim = encoder.name, encoder.dim
        self.pooling = getattr(encoder, "pooling", "mean")

    def key(self) -> Any:
        return self._encoder.key()

    def __getattr__(self, name: str) -> Any:  # revision, modality, ... as the real encoder
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._encoder, name)

    def encode(self, inputs: Any, *, batch_size: int = 32, progress: Any = None) -> np.ndarray:
        return self._stream.take([row_key(t) for t in inputs])
