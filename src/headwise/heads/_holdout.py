"""Stratified holdout split used by heads that pick a setting on validation data."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["stratified_holdout"]


def stratified_holdout(
    y: np.ndarray, fraction: float, random_state: Any = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Split row indices into ``(train, validation)``, stratified by ``y``.

    About ``fraction`` of the rows (rounded up) are held out, spread over the classes in
    proportion to their sizes. Rule for small classes: a class with a single row is never held
    out, and every class keeps at least one training row, so every class is still learned.
    Returns ``None`` when no row can be held out (every class has one row); callers then fall
    back to a fixed choice. Both index arrays are sorted.

    >>> tr, va = stratified_holdout(np.array([0, 0, 0, 0, 1, 1, 1, 1]), 0.25, random_state=0)
    >>> len(tr), len(va), sorted(np.array([0, 0, 0, 0, 1, 1, 1, 1])[va].tolist())
    (6, 2, [0, 1])
    """
    y = np.asarray(y)
    n = y.shape[0]
    rng = check_random_state(random_state)
    _, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    # Shuffle, then give the j-th row of class c the rank (j + u) / count_c: taking the rows of
    # smallest rank takes about the same fraction of every class (systematic sampling).
    perm = rng.permutation(n)
    order = perm[np.argsort(codes[perm], kind="stable")]
    sorted_codes = codes[order]
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    pos = np.arange(n) - starts[sorted_codes]
    cnt = counts[sorted_codes]
    rank = (pos + rng.uniform(size=n)) / cnt
    rank[pos == cnt - 1] = np.inf  # the last row of every class stays in training
    eligible = int(np.isfinite(rank).sum())
    n_val = min(int(np.ceil(fraction * n)), eligible)
    if n_val < 1:
        return None
    take = np.argsort(rank, kind="stable")[:n_val]
    val = np.sort(order[take])
    mask = np.ones(n, dtype=bool)
    mask[val] = False
    return np.flatnonzero(mask), val
