"""Sufficient statistics over a Ray Dataset: accumulated per block, merged with ``+``.

Ray Data's aggregate calls :meth:`StatsAggregate.aggregate_block` on every block (on the
workers that hold them), merges the partial statistics with :meth:`SufficientStats.__add__`
and finalises on the driver. The sums are float64 throughout, so the result equals the
single-process statistics up to the order of floating-point additions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import InputError
from ..heads import SufficientStats

__all__ = ["StatsAggregate", "ray_stats", "embedding_dataset"]

FEATURES = "embedding"
LABELS = "label"


def _block_arrays(block: Any, features: str, labels: str) -> tuple[np.ndarray, np.ndarray]:
    from ray.data.block import BlockAccessor

    acc = BlockAccessor.for_block(block)
    names = list(acc.column_names())
    for col in (features, labels):
        if col not in names:
            raise InputError(f"Column '{col}' not found in the Ray Dataset; it has: {', '.join(names)}.")
    cols = acc.to_numpy([features, labels])
    X, y = np.asarray(cols[features]), np.asarray(cols[labels])
    if X.dtype == object:  # ragged rows come back as an object array of vectors
        X = np.stack(list(X)) if len(X) else np.zeros((0, 0))
    return X, y


def _make_aggregate_class() -> type:
    from ray.data.aggregate import AggregateFnV2

    class StatsAggregate(AggregateFnV2):  # type: ignore[misc]
        """Ray Data aggregation whose accumulator is a :class:`SufficientStats`.

        accumulate: ``aggregate_block`` turns one block's ``(features, labels)`` into statistics
        (optionally of ``ReLU(X @ projection)`` for RanPAC); merge: ``combine`` is ``a + b``;
        finalize returns the merged statistics. An empty dataset finalises to ``None``.
        """

        def __init__(
            self,
            features: str = FEATURES,
            labels: str = LABELS,
            *,
            gram: bool = True,
            squares: bool = True,
            projection: np.ndarray | None = None,
        ) -> None:
            self.features, self.labels = features, labels
            self.gram, self.squares, self.projection = gram, squares, projection
            super().__init__(
                "sufficient_stats", zero_factory=lambda: None, on=None, ignore_nulls=False
            )

        def aggregate_block(self, block: Any) -> SufficientStats | None:
            X, y = _block_arrays(block, self.features, self.labels)
            if X.shape[0] == 0:
                return None
            if X.ndim != 2:
                raise InputError(
                    f"Column '{self.features}' must hold one vector per row; a block has shape "
                    f"{X.shape}."
                )
            if not np.isfinite(X).all():
                raise InputError(
                    f"Column '{self.features}' holds NaN or infinite values; re-embed those rows."
                )
            if self.projection is not None:
                X = np.maximum(np.asarray(X, dtype=np.float64) @ self.projection, 0.0)
            return SufficientStats.from_data(X, y, gram=self.gram, squares=self.squares)

        def combine(
            self, current: SufficientStats | None, new: SufficientStats | None
        ) -> SufficientStats | None:
            if current is None:
                return new
            if new is None:
                return current
            return current + new

        def finalize(self, accumulator: SufficientStats | None) -> SufficientStats | None:
            return accumulator

    return StatsAggregate


_CLASS: list[type] = []


def StatsAggregate(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 - builds the Ray class lazily
    """Build a Ray Data aggregation of :class:`SufficientStats` (see ``ray_stats``)."""
    if not _CLASS:
        _CLASS.append(_make_aggregate_class())
    return _CLASS[0](*args, **kwargs)


def ray_stats(
    ds: Any,
    *,
    features: str = FEATURES,
    labels: str = LABELS,
    gram: bool = True,
    squares: bool = True,
    projection: np.ndarray | None = None,
) -> SufficientStats:
    """Sufficient statistics of a Ray Dataset's ``features`` and ``labels`` columns.

    Parameters
    ----------
    ds : ray.data.Dataset
        One vector per row in ``features`` (a tensor column), one label per row in ``labels``.
    gram, squares : bool
        Which second-order parts to accumulate (see :class:`SufficientStats`).
    projection : ndarray of shape (d, M), optional
        Accumulate statistics of ``ReLU(X @ projection)`` instead of ``X`` (RanPAC).

    Returns
    -------
    SufficientStats
    """
    from ._session import worker_errors

    # Missing columns are reported from the first block (asking for the schema up front would
    # run part of a lazy pipeline once more).
    agg = StatsAggregate(features, labels, gram=gram, squares=squares, projection=projection)
    with worker_errors():
        result = ds.aggregate(agg)
    stats = result["sufficient_stats"] if isinstance(result, dict) else result
    if stats is None:
        raise InputError("The Ray Dataset has no rows to accumulate statistics from.")
    return stats


def embedding_dataset(
    embeddings: Any,
    y: Any,
    *,
    indices: Any = None,
    rows_per_block: int = 8192,
    features: str = FEATURES,
    labels: str = LABELS,
) -> Any:
    """A Ray Dataset of ``(features, labels)`` rows from stored embeddings or an array.

    ``embeddings`` is an :class:`~headwise.store.EmbeddingSet` (its shards are read one block
    at a time, never as one matrix), an array or a list of arrays; ``y`` has one label per row
    and ``indices`` selects rows (e.g. the train split), kept in row order.
    """
    import ray.data
    from ray.data.block import BlockAccessor

    from ..heads import iter_labelled_chunks

    # Stored vectors are float32/float16 and go to the workers as float32 (exact); float64
    # arrays stay float64 so the statistics match the single-process ones.
    first = embeddings[0] if isinstance(embeddings, list | tuple) and embeddings else embeddings
    src = getattr(first, "dtype", None)
    wide = np.dtype(src) == np.float64 if src is not None else False
    dtype = np.float64 if wide else np.float32
    blocks = []
    for Xc, yc in iter_labelled_chunks(embeddings, y, indices=indices, chunk_rows=rows_per_block):
        batch = {features: np.ascontiguousarray(Xc, dtype=dtype), labels: np.asarray(yc)}
        blocks.append(BlockAccessor.batch_to_block(batch))
    if not blocks:
        raise InputError("No rows selected to build a Ray Dataset from.")
    return ray.data.from_blocks(blocks)
