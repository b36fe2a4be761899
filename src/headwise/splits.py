"""The one splits module: stratified holdouts of row indices.

Every place that carves rows out of a training set (validation for a head's setting, calibration
rows for trust, the selection split of ``compare_heads``, the probes' validation part) uses
:func:`stratified_holdout`, so they all follow one rule for small classes; every check that a
scored row also occurs among the training rows uses :func:`row_keys` and :func:`overlap_mask`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from ._validation import check_open_fraction
from .exceptions import InputError

__all__ = ["overlap_mask", "require_holdout", "row_keys", "stratified_holdout"]


def stratified_holdout(
    y: np.ndarray, fraction: float, random_state: Any = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Split row indices into ``(train, validation)``, stratified by ``y``.

    About ``fraction`` of the rows (rounded up) are held out, spread over the classes in
    proportion to their sizes. Rule for small classes: a class with a single row is never held
    out, and every class keeps at least one training row, so every class is still learned.
    Returns ``None`` when no row can be held out (every class has one row); callers then fall
    back to a fixed choice, or use :func:`require_holdout`. Both index arrays are sorted.

    >>> tr, va = stratified_holdout(np.array([0, 0, 0, 0, 1, 1, 1, 1]), 0.25, random_state=0)
    >>> len(tr), len(va), sorted(np.array([0, 0, 0, 0, 1, 1, 1, 1])[va].tolist())
    (6, 2, [0, 1])
    """
    check_open_fraction(fraction, "fraction", "of the rows to hold out")
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


def require_holdout(
    y: np.ndarray, fraction: float, random_state: Any = None, *, purpose: str = "validation"
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`stratified_holdout` that raises :class:`InputError` when nothing can be held out.

    >>> fit, val = require_holdout(np.array(["a", "a", "b", "b"]), 0.5, random_state=0)
    >>> len(fit), len(val)
    (2, 2)
    """
    split = stratified_holdout(y, fraction, random_state)
    if split is None:
        raise InputError(
            f"No row can be held out for {purpose}: every class has a single training row. "
            f"The {purpose} needs labelled rows the head is not fitted on; add training rows."
        )
    return split


def row_keys(X: np.ndarray | None = None, texts: Sequence[str] | None = None) -> np.ndarray:
    """One digest per row: of the normalised text (case and white space folded), or of the
    exact embedding bytes.

    >>> a, b = row_keys(texts=["Hello  world", "hello world"])
    >>> bool(a == b)
    True
    """
    if texts is not None:
        return np.asarray(
            [hashlib.blake2b(" ".join(t.split()).lower().encode(), digest_size=12).hexdigest()
             for t in texts]
        )  # fmt: skip
    if X is None:
        raise InputError("row_keys needs embeddings or texts.")
    A = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
    return np.asarray([hashlib.blake2b(r.tobytes(), digest_size=12).hexdigest() for r in A])


def overlap_mask(reference: Iterable[np.ndarray], keys: np.ndarray) -> np.ndarray:
    """True for each entry of ``keys`` found in any of the ``reference`` key arrays."""
    ref: set[str] = set()
    for r in reference:
        ref.update(np.asarray(r).tolist())
    return np.fromiter((k in ref for k in keys.tolist()), dtype=bool, count=len(keys))
