"""The one container for per-token vectors: ragged (CSR style) ``vectors`` plus ``offsets``.

Encoders return it for ``pooling="tokens"``, the token heads take it (``headwise.heads`` calls it
``RaggedTokens`` too), and anything with ``vectors`` and ``offsets`` (the store's token arrays)
converts to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .exceptions import InputError

__all__ = ["TokenEmbeddings"]


@dataclass(frozen=True, eq=False)
class TokenEmbeddings:
    """Per-token vectors for a batch of inputs, stored ragged (CSR style).

    Input ``i`` owns rows ``vectors[offsets[i]:offsets[i + 1]]``.

    Parameters
    ----------
    vectors : ndarray of shape (total_tokens, dim), float32 (float64 is kept as float64)
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
        vectors = np.asarray(self.vectors)
        keep = vectors.dtype in (np.float32, np.float64)
        vectors = np.ascontiguousarray(vectors, dtype=vectors.dtype if keep else np.float32)
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

    def take(self, rows: Any) -> TokenEmbeddings:
        """The inputs at ``rows``, in that order (copies the tokens).

        >>> te = TokenEmbeddings(np.arange(10, dtype=np.float32).reshape(5, 2), np.array([0, 2, 5]))
        >>> te.take([1, 0]).offsets.tolist()
        [0, 3, 5]
        """
        rows = np.asarray(rows, dtype=np.int64)
        lengths = self.lengths[rows]
        offsets = np.zeros(rows.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        src = np.repeat(self.offsets[rows] - offsets[:-1], lengths) + np.arange(offsets[-1])
        return TokenEmbeddings(self.vectors[src], offsets)

    def example_ids(self) -> np.ndarray:
        """Index of the input each token belongs to, shape (total_tokens,)."""
        return np.repeat(np.arange(len(self)), self.lengths)

    def __repr__(self) -> str:
        return f"TokenEmbeddings(n_inputs={len(self)}, total_tokens={self.vectors.shape[0]}, dim={self.dim})"
