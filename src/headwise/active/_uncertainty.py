"""Random and uncertainty sampling: pick the rows the model is least sure about.

Each function takes the pool's predicted probabilities ``proba`` (n, K), the rows already
``labeled`` (never picked again) and a ``seed`` (ties are broken at random), and returns
``budget`` pool indices, best first. Scores are computed in row chunks, so extra memory is
O(n) plus one chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._common import check_budget, check_proba, labeled_mask, rng_of, top_k

__all__ = [
    "random_query",
    "least_confidence",
    "margin",
    "entropy",
    "least_confidence_scores",
    "margin_scores",
    "entropy_scores",
]

_CHUNK = 8192


def _chunked(P: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    out = np.empty(P.shape[0], dtype=np.float64)
    for s in range(0, P.shape[0], _CHUNK):
        out[s : s + _CHUNK] = fn(np.asarray(P[s : s + _CHUNK], dtype=np.float64))
    return out


def _normalised(P: np.ndarray) -> np.ndarray:
    total = P.sum(axis=1, keepdims=True)
    return P / np.where(total > 0, total, 1.0)


def least_confidence_scores(proba: Any) -> np.ndarray:
    """``1 - max_k p_k`` per row (higher: less confident)."""
    return _chunked(check_proba(proba), lambda p: 1.0 - _normalised(p).max(axis=1))


def margin_scores(proba: Any) -> np.ndarray:
    """``-(p_(1) - p_(2))`` per row: minus the gap between the two most likely classes."""

    def fn(p: np.ndarray) -> np.ndarray:
        top2 = np.partition(_normalised(p), p.shape[1] - 2, axis=1)[:, -2:]
        return -(top2[:, 1] - top2[:, 0])

    return _chunked(check_proba(proba), fn)


def entropy_scores(proba: Any) -> np.ndarray:
    """Shannon entropy ``-Σ p log p`` per row (nats)."""

    def fn(p: np.ndarray) -> np.ndarray:
        q = _normalised(p)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(q > 0, q * np.log(q), 0.0)
        return -terms.sum(axis=1)

    return _chunked(check_proba(proba), fn)


def _pick(scores: np.ndarray, budget: int, labeled: Any, seed: Any) -> np.ndarray:
    avail = ~labeled_mask(labeled, scores.size)
    k = check_budget(budget, int(avail.sum()))
    return top_k(scores, k, avail, rng_of(seed))


def random_query(n_pool: int, budget: int, *, labeled: Any = None, seed: Any = 0) -> np.ndarray:
    """``budget`` unlabelled rows drawn uniformly without replacement.

    >>> random_query(10, 3, labeled=[0, 1], seed=0).size
    3
    """
    avail = np.flatnonzero(~labeled_mask(labeled, int(n_pool)))
    k = check_budget(budget, avail.size)
    return rng_of(seed).choice(avail, size=k, replace=False)


def least_confidence(proba: Any, budget: int, *, labeled: Any = None, seed: Any = 0) -> np.ndarray:
    """The rows whose most likely class is least likely.

    >>> least_confidence([[0.9, 0.1], [0.5, 0.5], [0.7, 0.3]], 1).tolist()
    [1]
    """
    return _pick(least_confidence_scores(proba), budget, labeled, seed)


def margin(proba: Any, budget: int, *, labeled: Any = None, seed: Any = 0) -> np.ndarray:
    """The rows with the smallest gap between the two most likely classes.

    >>> margin([[0.5, 0.4, 0.1], [0.4, 0.3, 0.3], [0.9, 0.05, 0.05]], 1).tolist()
    [0]
    """
    return _pick(margin_scores(proba), budget, labeled, seed)


def entropy(proba: Any, budget: int, *, labeled: Any = None, seed: Any = 0) -> np.ndarray:
    """The rows whose predicted distribution has the highest entropy.

    >>> entropy([[0.5, 0.5, 0.0], [0.4, 0.3, 0.3], [0.9, 0.05, 0.05]], 1).tolist()
    [1]
    """
    return _pick(entropy_scores(proba), budget, labeled, seed)
