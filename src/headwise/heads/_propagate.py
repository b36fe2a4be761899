"""Label propagation of a teacher's probabilities over the k-nearest-neighbour graph of a pool.

Pure math for :class:`~headwise.heads.DHOHead`: the teacher's distribution on every pool row is
smoothed along the data (Zhou et al., 2004, "Learning with local and global consistency";
ZLaP, Stojnić et al., 2024, for zero-shot teachers): ``F = (1 − a) Σ_t (a S)^t P`` with ``S`` the
symmetrically normalised kNN affinity. ``a = 0`` is the teacher itself. The strength is chosen on
labelled rows whose labels the propagation never saw, so the check is honest even with one
label per class, and a stronger smoothing must beat the teacher by more than its noise.
Memory is linear in the pool: the graph holds ``n · k`` edges, never an ``n × n`` matrix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._knn import _normalize_rows, knn_neighbours

__all__ = ["knn_affinity", "pool_affinity", "propagate", "choose_propagation", "clears_noise"]


def knn_affinity(X: np.ndarray, n_neighbors: int = 10, power: float = 3.0) -> sp.csr_matrix:
    """``D^{-1/2} W D^{-1/2}`` of the symmetrised cosine kNN graph (``w = max(cos, 0)^power``).

    >>> S = knn_affinity(np.eye(3) + 0.1, n_neighbors=1)
    >>> S.shape, bool(np.allclose(S.diagonal(), 0))
    ((3, 3), True)
    """
    n = X.shape[0]
    Xn = _normalize_rows(np.asarray(X, dtype=np.float32))
    k = min(int(n_neighbors) + 1, n)  # +1: every row is its own nearest neighbour
    rows, cols, vals = [], [], []
    for start, idx, _ in knn_neighbours(Xn, Xn, n_neighbors=k, weights="uniform", batch_size=1024):
        q = Xn[start : start + idx.shape[0]]
        sims = np.einsum("bd,bkd->bk", q, Xn[idx]).astype(np.float64)
        rows.append(np.repeat(np.arange(start, start + idx.shape[0]), idx.shape[1]))
        cols.append(idx.ravel())
        vals.append(np.maximum(sims.ravel(), 0.0) ** float(power))
    W = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
    W.setdiag(0.0)
    W.eliminate_zeros()
    W = (W + W.T).tocsr()
    deg = np.asarray(W.sum(axis=1)).ravel()
    inv = sp.diags(1.0 / np.sqrt(np.where(deg > 0, deg, 1.0)))
    return (inv @ W @ inv).tocsr()


def pool_affinity(
    X: np.ndarray, n_neighbors: int, cached: tuple[str, Any] | None = None
) -> tuple[sp.csr_matrix, tuple[str, Any]]:
    """:func:`knn_affinity` of ``X``'s rows, reusing ``cached`` when the rows (as a set) match.

    Rows are put in a canonical order before hashing and building, so the same pool split
    differently into labelled and unlabelled rows (another seed, another round) hits. Returns
    the affinity in ``X``'s row order and the ``(key, graph)`` pair to pass next time.

    >>> X = np.eye(4) + 0.1
    >>> S, memo = pool_affinity(X, 1)
    >>> S2, _ = pool_affinity(X[::-1], 1, memo)
    >>> bool(np.allclose(S2.toarray(), S.toarray()[::-1, ::-1]))
    True
    """
    order = np.lexsort(X.T[::-1])
    digest = hashlib.sha256(np.ascontiguousarray(X[order]).tobytes())
    key = f"{digest.hexdigest()}:{int(n_neighbors)}"
    if cached is not None and cached[0] == key:
        S = cached[1]
    else:
        S = knn_affinity(X[order], int(n_neighbors))
    back = np.empty_like(order)
    back[order] = np.arange(order.size)
    return S[back][:, back], (key, S)


def propagate(S: sp.spmatrix, P: np.ndarray, a: float, n_iter: int = 30) -> np.ndarray:
    """``F ← a S F + (1 − a) P`` iterated from ``F = P``, rows renormalised (``a = 0``: ``P``).

    >>> P = np.array([[0.9, 0.1], [0.4, 0.6]])
    >>> propagate(knn_affinity(np.eye(2) + 1, 1), P, 0.0).tolist() == P.tolist()
    True
    """
    P = np.asarray(P, dtype=np.float64)
    if a <= 0:
        return P.copy()
    F = P.copy()
    for _ in range(int(n_iter)):
        F = float(a) * (S @ F) + (1.0 - float(a)) * P
    F = np.maximum(F, 1e-12)
    return F / F.sum(axis=1, keepdims=True)


def clears_noise(hit: np.ndarray, base_hit: np.ndarray) -> bool:
    """True when ``hit`` is right on more rows than ``base_hit`` by more than one standard error.

    The standard error of the paired difference in correct rows is ``sqrt`` of the rows on which
    the two disagree in correctness (McNemar); a tie or a gain within the noise keeps the base.

    >>> base = np.array([True] * 10 + [False] * 10)
    >>> clears_noise(np.r_[base[:10], [True] * 2, [False] * 8], base)  # +2 of sqrt(2)
    True
    >>> clears_noise(np.r_[[False] * 3, base[3:10], [True] * 5, [False] * 5], base)  # +2 of sqrt(8)
    False
    """
    gain = int(np.sum(hit)) - int(np.sum(base_hit))
    return bool(gain > np.sqrt(np.sum(np.asarray(hit) != np.asarray(base_hit))))


def choose_propagation(
    S: sp.spmatrix, P: np.ndarray, rows: np.ndarray, codes: np.ndarray, strengths: Sequence[float]
) -> tuple[float, np.ndarray]:
    """The strength whose propagated teacher is right most often on the labelled ``rows``.

    Shrunk toward the teacher: a strength replaces the current choice only when it gains more
    correct rows than one standard error of the paired difference (``sqrt`` of the rows on
    which the two disagree in correctness, McNemar), trying weaker smoothing first. Returns the
    strength and the propagated probabilities of every row.
    """
    best_a, best_F = 0.0, np.asarray(P, dtype=np.float64)
    best_hit = best_F[rows].argmax(axis=1) == codes
    for a in sorted(float(s) for s in strengths if s > 0):
        F = propagate(S, P, a)
        hit = F[rows].argmax(axis=1) == codes
        if clears_noise(hit, best_hit):
            best_a, best_F, best_hit = a, F, hit
    return best_a, best_F
