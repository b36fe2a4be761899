"""Exact leave-one-out logits of the closed-form heads, without refitting them n times.

Each function returns, for the query rows ``rows`` (default: every row), the logits that the head
fitted on all rows *but that one* gives it: ``out[j] = head.fit(X[-i], y[-i]).logits(X[i])`` with
``i = rows[j]``, up to a constant per row (softmax and argmax ignore it). A row whose class has a
single row cannot be predicted by a head that never saw its class: its own class gets ``-inf``.
Tests check every closed form against brute-force refits.

* NCM: the class sum loses one row; cosine and euclidean scores follow in O(n d K).
* LDA: the class mean and the pooled scatter get a rank-one downdate
  ``S' = S - n_c/(n_c-1) r rᵀ`` (``r`` the row's residual), the shrinkage target ``tr S'/d``
  moves with it; in the eigenbasis of ``S`` the shrunk covariance is diagonal plus rank one, so
  Sherman-Morrison gives every row's inverse in O(d) and all logits in a few (n, d) @ (d, K)
  products per shrinkage.
* Ridge: the hat matrix ``H = 11ᵀ/n + Xc (XcᵀXc + αI)⁻¹ Xcᵀ`` of the eigendecomposition gives
  ``ŷ₋ᵢ = (ŷᵢ - hᵢᵢ yᵢ)/(1 - hᵢᵢ)`` for every target column at once.
* kNN: the neighbours of a training row, itself excluded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import linalg

from ._knn import _LOG_FLOOR, _normalize_rows, vote_fractions_per_k
from ._lda import eigenvalue_floor, oas_shrinkage
from ._whiten import _one_blas_thread

__all__ = [
    "loo_ncm_logits", "loo_lda_path", "loo_lda_logits", "loo_ridge_path", "loo_ridge_logits", "loo_knn_logits",
]


def _setup(
    X: np.ndarray, codes: np.ndarray, n_classes: int, rows: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    rows = np.arange(X.shape[0]) if rows is None else np.asarray(rows, dtype=np.int64)
    counts = np.bincount(codes, minlength=n_classes).astype(np.float64)
    sums = np.zeros((n_classes, X.shape[1]))
    np.add.at(sums, codes, X)
    return X, rows, counts, sums, codes[rows]


def _mask_singletons(out: np.ndarray, own: np.ndarray, counts: np.ndarray) -> np.ndarray:
    single = counts[own] <= 1
    out[np.flatnonzero(single), own[single]] = -np.inf
    return out


def loo_ncm_logits(
    X: np.ndarray,
    codes: np.ndarray,
    n_classes: int,
    metric: str = "cosine",
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Leave-one-out logits of :class:`NCMHead` (``metric`` as the head), shape (len(rows), K).

    >>> X = np.array([[1.0, 0.0], [0.8, 0.2], [0.0, 1.0], [0.1, 0.9]])
    >>> loo_ncm_logits(X, np.array([0, 0, 1, 1]), 2).argmax(axis=1).tolist()
    [0, 0, 1, 1]
    """
    X, rows, counts, sums, own = _setup(X, codes, n_classes, rows)
    Xq = X[rows]
    j = np.arange(rows.size)
    n_own = counts[own]
    if metric == "cosine":
        norm_q = np.linalg.norm(Xq, axis=1)
        unit_q = Xq / np.where(norm_q > 0, norm_q, 1.0)[:, None]
        s_norm = np.linalg.norm(sums, axis=1)
        out = unit_q @ sums.T / np.where(s_norm > 0, s_norm, 1.0)
        own_sum = sums[own] - Xq  # the class sum without the row
        num = np.einsum("ij,ij->i", unit_q, own_sum)
        den = np.linalg.norm(own_sum, axis=1)
        out[j, own] = num / np.where(den > 0, den, 1.0)
    else:
        means = sums / np.maximum(counts, 1.0)[:, None]
        sq = (np.einsum("ij,ij->i", Xq, Xq)[:, None] - 2.0 * Xq @ means.T
              + np.einsum("ij,ij->i", means, means)[None, :])
        out = -0.5 * np.maximum(sq, 0.0)
        r = Xq - means[own]
        scale = n_own / np.maximum(n_own - 1.0, 1.0)
        out[j, own] = -0.5 * scale**2 * np.einsum("ij,ij->i", r, r)
    return _mask_singletons(out, own, counts)


def loo_lda_path(
    X: np.ndarray, codes: np.ndarray, n_classes: int, rows: np.ndarray | None = None
) -> tuple[float, Callable[[float], np.ndarray]]:
    """One eigendecomposition of the pooled scatter; returns the OAS shrinkage of all rows and a
    function giving the leave-one-out logits of :class:`LDAHead` at any shrinkage in (0, 1].

    Empirical priors, ``Σ = S/n`` shrunk as ``(1 - a) Σ + a (tr Σ/d) I``, exactly as the head.
    """
    X, rows, counts, sums, own = _setup(X, codes, n_classes, rows)
    n, d = X.shape
    means = sums / np.maximum(counts, 1.0)[:, None]
    centre = X.mean(axis=0)  # logits are invariant to a common shift, up to a per-row constant
    R = X - means[codes]
    S = R.T @ R
    oas = oas_shrinkage(S / n, n)
    with _one_blas_thread():
        lam, U = linalg.eigh(S, check_finite=False, driver="evd")
    lam = np.maximum(lam, 0.0)
    trace = float(lam.sum())
    Xt = (X[rows] - centre) @ U  # queries in the eigenbasis
    Mt = (means - centre) @ U
    Rt = R[rows] @ U
    n_own = counts[own]
    single = n_own <= 1
    beta = np.where(single, 0.0, n_own / np.maximum(n_own - 1.0, 1.0))
    e = np.where(single, 0.0, 1.0 / np.maximum(n_own - 1.0, 1.0))
    r_sq = np.einsum("ij,ij->i", Rt, Rt)
    tau = (trace - beta * r_sq) / d  # tr S' / d, per row
    j = np.arange(rows.size)
    log_prior = np.broadcast_to(np.log(np.maximum(counts, 1e-300)), (rows.size, n_classes)).copy()
    log_prior[j, own] = np.log(np.maximum(n_own - 1.0, 1e-300))
    Mt_sq = (Mt * Mt).T

    def at(a: float) -> np.ndarray:
        a = float(a)
        den = (1.0 - a) * lam[None, :] + a * tau[:, None]
        Pm = 1.0 / np.maximum(den, eigenvalue_floor(den))  # D_i⁻¹, (rows, d), as LDAHead floors
        u = np.sqrt((1.0 - a) * beta)[:, None] * Rt
        G = Pm * u
        s = 1.0 / (1.0 - np.einsum("ij,ij->i", u, G))
        XP = Xt * Pm
        A = XP @ Mt.T
        B = G @ Mt.T
        Cq = Pm @ Mt_sq
        # the own class mean moves to μ_c - r/(n_c - 1)
        A[j, own] -= e * np.einsum("ij,ij->i", XP, Rt)
        B[j, own] -= e * np.einsum("ij,ij->i", G, Rt)
        PR = Pm * Rt
        Cq[j, own] += -2.0 * e * np.einsum("ij,ij->i", Mt[own], PR) + e * e * np.einsum(
            "ij,ij->i", Rt, PR
        )
        xg = np.einsum("ij,ij->i", Xt, G)
        quad = A + (s * xg)[:, None] * B - 0.5 * (Cq + s[:, None] * B * B)
        return _mask_singletons((n - 1.0) * quad + log_prior, own, counts)

    return oas, at


def loo_lda_logits(
    X: np.ndarray,
    codes: np.ndarray,
    n_classes: int,
    shrinkages: Sequence[float],
    rows: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Leave-one-out logits of :class:`LDAHead` at each fixed shrinkage in (0, 1]."""
    _, at = loo_lda_path(X, codes, n_classes, rows)
    return [at(a) for a in shrinkages]


def loo_ridge_path(
    X: np.ndarray, codes: np.ndarray, n_classes: int, rows: np.ndarray | None = None
) -> Callable[[float], np.ndarray]:
    """One eigendecomposition; the returned function gives the leave-one-out decision values
    of :class:`RidgeHead` (with intercept) at any ``α`` in O(len(rows) · d · K)."""
    X, rows, counts, _, own = _setup(X, codes, n_classes, rows)
    n = X.shape[0]
    Y = -np.ones((n, n_classes))
    Y[np.arange(n), codes] = 1.0
    Xc = X - X.mean(axis=0)
    Yc = Y - Y.mean(axis=0)
    with _one_blas_thread():
        lam, U = linalg.eigh(Xc.T @ Xc, check_finite=False, driver="evd")
    lam = np.maximum(lam, 0.0)
    P = U.T @ (Xc.T @ Yc)
    Xq = Xc[rows] @ U
    Yq = Y[rows]
    y_mean = Y.mean(axis=0)

    def at(alpha: float) -> np.ndarray:
        Xi = Xq / (lam + float(alpha))
        fitted = y_mean + Xi @ P
        h = 1.0 / n + np.einsum("ij,ij->i", Xi, Xq)
        loo = (fitted - h[:, None] * Yq) / np.maximum(1.0 - h, 1e-12)[:, None]
        return _mask_singletons(loo, own, counts)

    return at


def loo_ridge_logits(
    X: np.ndarray,
    codes: np.ndarray,
    n_classes: int,
    alphas: Sequence[float],
    rows: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Leave-one-out decision values of :class:`RidgeHead` (with intercept) at each ``α``."""
    at = loo_ridge_path(X, codes, n_classes, rows)
    return [at(a) for a in alphas]


def loo_knn_logits(
    X: np.ndarray,
    codes: np.ndarray,
    n_classes: int,
    ks: Sequence[int],
    weights: str = "distance",
    rows: np.ndarray | None = None,
    batch_size: int = 1024,
) -> list[np.ndarray]:
    """Leave-one-out logits ``log(vote fraction + 1e-9)`` of :class:`KNNHead`, one per ``k``.

    Each query row is removed from its own neighbour list (identical *other* rows still count).
    """
    rows = np.arange(X.shape[0]) if rows is None else np.asarray(rows, dtype=np.int64)
    T = _normalize_rows(X)
    n = T.shape[0]
    counts = np.bincount(codes, minlength=n_classes)
    capped = [min(int(k), n - 1) for k in ks]  # the row itself is never its own neighbour
    outs = [np.zeros((rows.size, n_classes)) for _ in ks]
    for start in range(0, rows.size, batch_size):
        q = rows[start : start + batch_size]
        sims = T[q] @ T.T
        sims[np.arange(q.size), q] = -np.inf
        for out, votes in zip(outs, vote_fractions_per_k(sims, codes, n_classes, capped, weights),
                              strict=True):
            out[start : start + q.size] = votes
    own = codes[rows]
    return [_mask_singletons(np.log(o + _LOG_FLOOR), own, counts) for o in outs]
