"""Out-of-core fitting: one streaming pass over cached shards, never the full matrix in memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..exceptions import InputError
from ._stats import SufficientStats

__all__ = ["iter_labelled_chunks", "stream_stats", "fit_streaming"]


def _shard_iter(embeddings: Any) -> Iterator[np.ndarray]:
    if hasattr(embeddings, "shards"):
        yield from embeddings.shards()
    elif isinstance(embeddings, np.ndarray):
        yield embeddings
    else:
        yield from embeddings


def _chunk_dtype(X: Any) -> type:
    """float32 for float32/float16 rows (as an in-memory fit keeps them), float64 otherwise."""
    kind = np.asarray(X[:0]).dtype
    return np.float32 if kind in (np.float32, np.float16) else np.float64


def iter_labelled_chunks(
    embeddings: Any,
    y: Any,
    *,
    indices: Any = None,
    chunk_rows: int = 16384,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(X_chunk, y_chunk)`` in row order from an EmbeddingSet, array or shard list.

    ``y`` has one label per stored row; ``indices`` (optional) restricts to those rows (e.g. the
    train split). Chunks are float32 when the stored rows are float32 or float16 (the statistics
    then take their float32 path, as an in-memory fit of the same rows does), else float64; at
    most ``chunk_rows`` rows are converted at a time.
    """
    y = np.asarray(y)
    keep: np.ndarray | None = None
    if indices is not None:
        keep = np.zeros(y.shape[0], dtype=bool)
        keep[np.asarray(indices)] = True
    offset = 0
    for shard in _shard_iter(embeddings):
        rows = shard.shape[0]
        if offset + rows > y.shape[0]:
            raise InputError(
                f"The embeddings have more rows than the {y.shape[0]} labels given; pass one label "
                "per cached row (use indices= to select a split)."
            )
        for start in range(0, rows, chunk_rows):
            stop = min(start + chunk_rows, rows)
            sel = slice(offset + start, offset + stop)
            if keep is None:
                Xc, yc = shard[start:stop], y[sel]
            else:
                mask = keep[sel]
                if not mask.any():
                    continue
                Xc, yc = shard[start:stop][mask], y[sel][mask]
            Xc = np.asarray(Xc, dtype=_chunk_dtype(Xc))
            if not np.isfinite(Xc).all():
                raise InputError(
                    "Cached embeddings contain NaN or infinite values; run `headwise cache verify` "
                    "and re-embed."
                )
            yield Xc, yc
        offset += rows
    if offset != y.shape[0]:
        raise InputError(
            f"The embeddings have {offset} rows but {y.shape[0]} labels were given; "
            "they must match row for row."
        )


def stream_stats(
    embeddings: Any,
    y: Any,
    *,
    indices: Any = None,
    chunk_rows: int = 16384,
    gram: bool = True,
    squares: bool = True,
) -> SufficientStats:
    """Sufficient statistics of (a subset of) cached embeddings in one streaming pass.

    ``gram=False`` / ``squares=False`` skip the parts a head does not read (see
    :class:`SufficientStats`).
    """
    return SufficientStats.from_batches(
        iter_labelled_chunks(embeddings, y, indices=indices, chunk_rows=chunk_rows),
        gram=gram,
        squares=squares,
    )


def fit_streaming(
    head: Any, embeddings: Any, y: Any, *, indices: Any = None, chunk_rows: int = 16384
) -> Any:
    """Fit ``head`` without materialising the embeddings.

    Heads whose parameters are a function of :class:`SufficientStats` (ncm, lda, ridge, nb) are
    fitted from one streaming pass. A head that defines ``fit_streaming(chunks, y)`` (logistic:
    full-batch L-BFGS, one pass per evaluation; plugins) gets ``chunks(positions)``, which yields
    ``(X_chunk, y_chunk)`` for those positions of the selected rows, and their labels ``y``.
    """
    if hasattr(head, "fit_from_stats"):
        needs = {
            "gram": getattr(head, "_needs_gram", True),
            "squares": getattr(head, "_needs_squares", True),
        }
        stats = stream_stats(embeddings, y, indices=indices, chunk_rows=chunk_rows, **needs)
        return head.fit_from_stats(stats)
    if hasattr(head, "fit_streaming"):
        labels = np.asarray(y)
        rows = np.arange(labels.shape[0]) if indices is None else np.asarray(indices)

        def chunks(positions: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
            sel = rows if positions is None else rows[np.asarray(positions)]
            return iter_labelled_chunks(embeddings, labels, indices=sel, chunk_rows=chunk_rows)

        return head.fit_streaming(chunks, labels[rows])
    raise InputError(
        f"{type(head).__name__} needs every row in memory; out-of-core fitting supports ncm, lda, "
        "ridge, nb and logistic (load the rows with EmbeddingSet.take for the others)."
    )
