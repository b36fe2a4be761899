"""Pieces every selection strategy shares: checking inputs and taking the top of a ranking."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np

from ..exceptions import InputError

__all__ = ["check_budget", "labeled_mask", "check_proba", "top_k", "rng_of"]


def rng_of(seed: Any) -> np.random.Generator:
    """A numpy Generator from an int seed, a Generator or None."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def labeled_mask(labeled: Any, n_pool: int) -> np.ndarray:
    """Boolean mask of the pool rows already labelled, from indices or a mask (None: none)."""
    if labeled is None:
        return np.zeros(n_pool, dtype=bool)
    a = np.asarray(labeled)
    if a.dtype == bool:
        if a.shape != (n_pool,):
            raise InputError(
                f"labeled as a mask must have one entry per pool row ({n_pool}); got shape {a.shape}."
            )
        return a.copy()
    if a.size and (a.dtype.kind not in "iu" or a.min() < 0 or a.max() >= n_pool):
        raise InputError(
            f"labeled must hold row indices in [0, {n_pool}) or a boolean mask; got {a[:5]!r}..."
        )
    mask = np.zeros(n_pool, dtype=bool)
    mask[a.astype(np.int64).ravel()] = True
    return mask


def check_budget(budget: Any, n_available: int) -> int:
    """The number of rows to pick: a positive int, at most the unlabelled rows left."""
    if isinstance(budget, bool) or not isinstance(budget, Integral) or budget < 1:
        raise InputError(f"budget must be an int >= 1. Got {budget!r} instead.")
    if budget > n_available:
        raise InputError(
            f"budget {budget} exceeds the {n_available} unlabelled row(s) left in the pool; "
            "ask for fewer or add rows to the pool."
        )
    return int(budget)


def check_proba(proba: Any) -> np.ndarray:
    """Predicted class probabilities (n, K): finite, non-negative, at least two columns."""
    P = np.asarray(proba)
    if P.ndim != 2 or P.shape[1] < 2:
        raise InputError(f"proba must have shape (n_pool, n_classes >= 2); got {P.shape}.")
    if P.dtype.kind != "f":
        P = P.astype(np.float64)
    if not np.all(np.isfinite(P)) or (P.size and P.min() < 0):
        raise InputError("proba must be finite and non-negative (predict_proba of a head).")
    return P


def top_k(scores: np.ndarray, k: int, available: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices of the ``k`` highest ``scores`` among ``available`` rows, best first.

    Ties are broken by a seeded random order, so equal scores do not favour low indices.
    Time and memory are O(n) (a partition, then a sort of the ``k`` winners).

    >>> top_k(np.array([0.1, 0.9, 0.5]), 2, np.ones(3, bool), np.random.default_rng(0)).tolist()
    [1, 2]
    """
    idx = np.flatnonzero(available)
    s = np.asarray(scores, dtype=np.float64)[idx]
    jitter = rng.random(idx.size)
    # rank by score, then by the random key: lexsort's last key is primary
    if k < idx.size:
        kth = np.partition(s, idx.size - k)[idx.size - k]
        keep = s >= kth  # every row that can be in the top k, ties included
        idx, s, jitter = idx[keep], s[keep], jitter[keep]
    order = np.lexsort((jitter, -s))[:k]
    return idx[order]
