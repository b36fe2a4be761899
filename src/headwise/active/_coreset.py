"""Greedy k-center selection: in embedding space (coreset) or in probability space (PCoreSet).

Coreset (Sener & Savarese, 2018) picks, one at a time, the pool row farthest from everything
labelled or already picked, which greedily minimises the largest distance from any row to its
nearest selected row (a 2-approximation of the k-center optimum). PCoreSet (Kang et al., 2025)
runs the same greedy on the student's predicted probability vectors, so the batch covers the
regions of the probability simplex the labels have not reached yet.

Memory stays O(n) plus bounded chunks: the running nearest-centre distance per row, never an
n × n matrix; each pick costs one pass over the pool (O(n·d)).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import InputError
from ._common import check_budget, check_proba, labeled_mask, rng_of

__all__ = ["k_center_greedy", "coreset", "pcoreset", "nearest_center_distances"]

_BLOCK = 1 << 20  # entries of one (rows × centres) distance block


def _features(F: Any, name: str) -> np.ndarray:
    A = np.asarray(F)
    if A.ndim != 2 or A.shape[0] == 0:
        raise InputError(f"{name} must be a non-empty 2-D array (n_pool, n_features); got {A.shape}.")
    if A.dtype.kind != "f":
        A = A.astype(np.float64)
    if not np.all(np.isfinite(A)):
        raise InputError(f"{name} contains NaN or infinity; re-embed or drop those rows.")
    return A


def nearest_center_distances(F: np.ndarray, centers: np.ndarray, sq: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance from every row of ``F`` to its nearest row in ``F[centers]``.

    Computed in blocks of at most about a million (row, centre) pairs; ``sq`` holds the rows'
    squared norms. Rows with no centre get ``inf``.
    """
    n = F.shape[0]
    out = np.full(n, np.inf)
    if centers.size == 0:
        return out
    m = int(min(centers.size, max(1, _BLOCK // 1024)))
    r = int(max(1, _BLOCK // m))
    for c0 in range(0, centers.size, m):
        C = F[centers[c0 : c0 + m]]
        csq = sq[centers[c0 : c0 + m]]
        for s in range(0, n, r):
            d = sq[s : s + r, None] + csq[None, :] - 2.0 * (F[s : s + r] @ C.T)
            np.minimum(out[s : s + r], d.min(axis=1), out=out[s : s + r])
    return np.maximum(out, 0.0)


def k_center_greedy(F: Any, budget: int, *, labeled: Any = None, seed: Any = 0) -> np.ndarray:
    """Greedy k-center: ``budget`` rows, each the farthest from the labelled and picked rows.

    With nothing labelled, the first row is drawn at random (``seed``); exact distance ties go
    to the lowest index. Returns pool indices in pick order.

    >>> F = np.array([[0.0], [1.0], [10.0], [4.0]])
    >>> k_center_greedy(F, 2, labeled=[0]).tolist()
    [2, 3]
    """
    A = _features(F, "features")
    n = A.shape[0]
    done = labeled_mask(labeled, n)
    k = check_budget(budget, int(n - done.sum()))
    sq = np.einsum("ij,ij->i", A, A, dtype=np.float64)
    mind = nearest_center_distances(A, np.flatnonzero(done), sq)
    picks: list[int] = []
    if not done.any():
        first = int(rng_of(seed).integers(n))
        picks.append(first)
        done[first] = True
        mind = nearest_center_distances(A, np.array([first]), sq)
    while len(picks) < k:
        mind[done] = -np.inf
        nxt = int(np.argmax(mind))
        picks.append(nxt)
        done[nxt] = True
        d = sq + sq[nxt] - 2.0 * (A @ A[nxt]).astype(np.float64)
        np.minimum(mind, np.maximum(d, 0.0), out=mind)
    return np.asarray(picks, dtype=np.int64)


def coreset(X: Any, budget: int, *, labeled: Any = None, seed: Any = 0) -> np.ndarray:
    """Coreset selection: greedy k-center on the embeddings ``X`` (n_pool, d)."""
    return k_center_greedy(X, budget, labeled=labeled, seed=seed)


def pcoreset(proba: Any, budget: int, *, labeled: Any = None, seed: Any = 0) -> np.ndarray:
    """PCoreSet: greedy k-center on the student's predicted probabilities ``proba`` (n_pool, K).

    >>> P = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.5, 0.5]])
    >>> pcoreset(P, 2, labeled=[0]).tolist()
    [2, 3]
    """
    return k_center_greedy(check_proba(proba), budget, labeled=labeled, seed=seed)
