"""Token-level inputs for the token probes: one ragged format, converted from the usual shapes.

The token heads (:class:`~headwise.heads.AttentiveProbeHead`, :class:`~headwise.heads.MomentProbeHead`)
take ``X`` as any of

* :class:`~headwise.encoders.TokenEmbeddings` (what ``pooling="tokens"`` encoders return) or the
  store's ``EmbeddingSet.token_embeddings()`` (the same type): anything with ``vectors``
  ``(total_tokens, d)`` and ``offsets`` ``(n + 1,)``;
* a list (or tuple) of ``(t_i, d)`` arrays, one per example;
* a padded 3-D array ``(n, T, d)`` whose every position is a real token; for padded batches with
  padding, call :func:`from_padded` with the lengths first.

Every example needs at least one token. Inputs are never modified.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_n_features
from ..exceptions import InputError
from ..tokens import TokenEmbeddings

__all__ = ["RaggedTokens", "TokenEmbeddings", "check_tokens", "from_padded", "padded_batch"]


RaggedTokens = TokenEmbeddings  # the one token container; the old name stays importable


def from_padded(X: Any, lengths: Any) -> RaggedTokens:
    """Ragged tokens from a padded ``(n, T, d)`` array and per-example ``lengths`` (right padding).

    >>> X = np.zeros((2, 3, 4)); X[0, :2] = 1.0
    >>> r = from_padded(X, [2, 3])
    >>> r.vectors.shape, r.offsets.tolist()
    ((5, 4), [0, 2, 5])
    """
    arr = np.asarray(X)
    lens = np.asarray(lengths)
    if arr.ndim != 3:
        raise InputError(f"A padded token batch must be 3-D (n, T, d), got shape {arr.shape}.")
    if lens.shape != (arr.shape[0],) or lens.dtype.kind not in "iu":
        raise InputError(
            f"lengths must be {arr.shape[0]} integers (one per example), got {lens!r}."
        )
    if np.any(lens < 1) or np.any(lens > arr.shape[1]):
        raise InputError(
            f"lengths must lie in [1, {arr.shape[1]}] (the padded width); got min "
            f"{int(lens.min())}, max {int(lens.max())}."
        )
    mask = np.arange(arr.shape[1])[None, :] < lens[:, None]
    offsets = np.zeros(arr.shape[0] + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    return RaggedTokens(arr[mask], offsets)


def check_tokens(X: Any, owner: str, n_features: int | None = None) -> RaggedTokens:
    """Validate token inputs in any accepted shape (see the module docstring).

    Raises :class:`~headwise.exceptions.InputError` for 2-D pooled inputs, empty examples,
    NaN/inf and, when ``n_features`` is given, a different token width.
    """
    if isinstance(X, RaggedTokens):
        vectors, offsets = X.vectors, X.offsets
    elif hasattr(X, "vectors") and hasattr(X, "offsets"):
        vectors, offsets = np.asarray(X.vectors), np.asarray(X.offsets, dtype=np.int64)
    elif isinstance(X, list | tuple):
        if len(X) == 0:
            raise InputError(f"{owner} got no examples; X must hold at least one.")
        parts = [np.asarray(x) for x in X]
        bad = [i for i, p in enumerate(parts) if p.ndim != 2]
        if bad:
            raise InputError(
                f"{owner} takes one (tokens, features) array per example; example {bad[0]} has "
                f"shape {parts[bad[0]].shape}."
            )
        widths = {p.shape[1] for p in parts}
        if len(widths) > 1:
            raise InputError(f"Every example must have the same token width; got {sorted(widths)}.")
        offsets = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum([p.shape[0] for p in parts], out=offsets[1:])
        vectors = np.concatenate(parts, axis=0)
    else:
        arr = np.asarray(X)
        if arr.ndim != 3:
            raise InputError(
                f"{owner} is a token-level head: X must be TokenEmbeddings, a list of (tokens, "
                f"features) arrays or a padded (n, T, d) array, got an array of shape {arr.shape}. "
                "Embed with pooling='tokens' (or use a pooled head such as 'lda')."
            )
        n, t, d = arr.shape
        vectors = arr.reshape(n * t, d)
        offsets = np.arange(n + 1, dtype=np.int64) * t
    if vectors.dtype.kind not in "fiu" or vectors.ndim != 2:
        raise InputError(
            f"{owner} needs numeric token vectors of shape (tokens, features), got "
            f"dtype {vectors.dtype} and shape {vectors.shape}."
        )
    if vectors.dtype not in (np.float32, np.float64):
        vectors = vectors.astype(np.float64)
    if offsets.ndim != 1 or offsets.size < 2 or offsets[0] != 0 or offsets[-1] != len(vectors):
        raise InputError(f"{owner} got token offsets that do not span the token vectors.")
    lengths = np.diff(offsets)
    if np.any(lengths < 1):
        empty = int(np.flatnonzero(lengths < 1)[0])
        raise InputError(
            f"Example {empty} has no tokens; every example needs at least one for {owner}."
        )
    if n_features is not None:
        check_n_features(vectors.shape[1], n_features, owner)
    if not np.isfinite(vectors).all():
        bad_token = int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])
        row = int(np.searchsorted(offsets, bad_token, side="right") - 1)
        raise InputError(
            f"Input X contains NaN or infinity (first in example {row}). Re-embed those inputs "
            "or drop them."
        )
    return RaggedTokens(vectors, offsets)


def padded_batch(tokens: RaggedTokens, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded ``(len(rows), T, d)`` float32 array and its boolean mask for ``rows``."""
    lengths = tokens.lengths[rows]
    width = int(lengths.max())
    mask = np.arange(width)[None, :] < lengths[:, None]
    out = np.zeros((len(rows), width, tokens.dim), dtype=np.float32)
    src = np.repeat(tokens.offsets[rows], lengths) + (
        np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    )
    out[mask] = tokens.vectors[src]
    return out, mask
