"""The :class:`Encoder` protocol and the ragged :class:`TokenEmbeddings` container."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..exceptions import InputError

__all__ = ["Encoder", "TokenEmbeddings", "POOLINGS"]

#: Pooling modes an encoder may report: one vector per input ("mean", "cls") or per token.
POOLINGS: tuple[str, ...] = ("mean", "cls", "tokens")


@dataclass(frozen=True, eq=False)
class TokenEmbeddings:
    """Per-token vectors for a batch of inputs, stored ragged (CSR style).

    Input ``i`` owns rows ``vectors[offsets[i]:offsets[i + 1]]``.

    Parameters
    ----------
    vectors : ndarray of shape (total_tokens, dim), float32
    offsets : ndarray of shape (n_inputs + 1,), int64, starting at 0 and ending at ``total_tokens``

    Examples
    --------
    >>> te = TokenEmbeddings(np.ones((5, 2), np.float32), np.array([0, 2, 5]))
    >>> len(te), te[1].shape, te.lengths.tolist()
    (2, (3, 2), [2, 3])
    """

    vectors: np.ndarray
    offsets: np.ndarray

    def __post_init__(self) -> None:
        vectors = np.ascontiguousarray(self.vectors, dtype=np.float32)
        offsets = np.ascontiguousarray(self.offsets, dtype=np.int64)
        if vectors.ndim != 2:
            raise InputError(
                f"TokenEmbeddings.vectors must be 2-D (total_tokens, dim), got shape {vectors.shape}."
            )
        if offsets.ndim != 1 or offsets.size == 0:
            raise InputError(
                f"TokenEmbeddings.offsets must be 1-D with n_inputs + 1 entries, got shape {offsets.shape}."
            )
        if offsets[0] != 0 or offsets[-1] != vectors.shape[0] or np.any(np.diff(offsets) < 0):
            raise InputError(
                "TokenEmbeddings.offsets must start at 0, never decrease and end at "
                f"len(vectors)={vectors.shape[0]}; got {offsets[:3].tolist()}...{offsets[-1]}."
            )
        object.__setattr__(self, "vectors", vectors)
        object.__setattr__(self, "offsets", offsets)

    @property
    def lengths(self) -> np.ndarray:
        """Number of tokens of each input, shape (n_inputs,)."""
        return np.diff(self.offsets)

    @property
    def dim(self) -> int:
        """Width of each token vector."""
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return int(self.offsets.shape[0] - 1)

    def __getitem__(self, i: int) -> np.ndarray:
        n = len(self)
        idx = int(i)
        if idx < 0:
            idx += n
        if not 0 <= idx < n:
            raise IndexError(f"index {i} is out of range for {n} inputs")
        return self.vectors[self.offsets[idx] : self.offsets[idx + 1]]

    def __repr__(self) -> str:
        return f"TokenEmbeddings(n_inputs={len(self)}, total_tokens={self.vectors.shape[0]}, dim={self.dim})"


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns a sequence of inputs into embeddings.

    ``name`` is a stable id (``"minilm"``, ``"hash"``, ``"hf:/abs/dir"``); ``key()`` returns a JSON-able
    dict of everything that determines the output (id, weights revision, layer, pooling, max_length,
    truncation, normalisation, format version) and is part of every cache key.

    ``encode`` returns an ``(n, dim)`` float32 C-contiguous array, or :class:`TokenEmbeddings` when
    ``pooling == "tokens"``; empty or missing inputs raise :class:`~headwise.exceptions.InputError`.
    """

    name: str
    dim: int
    pooling: str

    def key(self) -> dict[str, Any]: ...

    def encode(
        self, inputs: Sequence[str], *, batch_size: int = 32, progress: bool | None = None
    ) -> np.ndarray | TokenEmbeddings: ...


def check_batch_size(batch_size: Any) -> int:
    """Refuse anything but a positive integer batch size."""
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int | np.integer)
        or batch_size < 1
    ):
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}.")
    return int(batch_size)
