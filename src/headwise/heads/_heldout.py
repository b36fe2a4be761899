"""Held-out logits of the closed-form heads along their setting, from one fit of a training part.

Each function fits a head's statistics on the rows ``train`` once and returns its logits on the
rows ``held`` at every setting: ``at(v)[j] = head(v).fit(X[train], y[train]).logits(X[held[j]])``
up to a constant per row (softmax and argmax ignore it). A class without training rows gets
``-inf``. This is :mod:`._loo`'s companion for k-fold evidence: :class:`AutoHead` scores the
statistics heads on the logistic head's own splits (the same training sizes for every head), and
these paths choose their setting on those splits at the cost of one factorisation per split.
Tests check every path against refits of the head.

* LDA: one eigendecomposition of the training part's pooled within-class covariance ``Σ``;
  the shrunk ``(1 - a) Σ + a (tr Σ/d) I`` is diagonal in its eigenbasis for every ``a``.
* Ridge: :func:`._ridge.ridge_path` of the training part; every ``α`` is then ``O(d·K)``.
* kNN: one neighbour search for the largest ``k``; smaller ``k`` read its first columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import linalg

from ._knn import _LOG_FLOOR, _normalize_rows, vote_fractions_per_k
from ._lda import eigenvalue_floor, oas_shrinkage
from ._ridge import ridge_path
from ._stats import SufficientStats
from ._whiten import _one_blas_thread

__all__ = ["lda_heldout_path", "pooled_oas", "ridge_heldout_path", "knn_heldout_logits"]


def _class_means(X: np.ndarray, codes: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    counts = np.bincount(codes, minlength=n_classes).astype(np.float64)
    sums = np.zeros((n_classes, X.shape[1]))
    np.add.at(sums, codes, X)
    return counts, sums / np.maximum(counts, 1.0)[:, None]


def pooled_oas(X: np.ndarray, codes: np.ndarray, n_classes: int) -> float:
    """The OAS shrinkage of the pooled within-class covariance of all rows (``LDAHead``'s
    ``shrinkage="auto"``)."""
    X = np.asarray(X, dtype=np.float64)
    _, means = _class_means(X, codes, n_classes)
    R = X - means[codes]
    return oas_shrinkage(R.T @ R / X.shape[0], X.shape[0])


def lda_heldout_path(
    X: np.ndarray, codes: np.ndarray, n_classes: int, train: np.ndarray, held: np.ndarray
) -> Callable[[float], np.ndarray]:
    """Logits on ``held`` of :class:`LDAHead` (empirical priors) fitted on ``train``, at any
    shrinkage ``a`` in (0, 1]: one eigendecomposition, then ``O(len(held)·d·K)`` per ``a``.

    Centred on the training mean ``c``, ``xᵀΣ⁻¹μ - ½μᵀΣ⁻¹μ`` changes by ``-½cᵀΣ⁻¹c``, the same
    for every class."""
    Xt = np.asarray(X[train], dtype=np.float64)
    ct = codes[train]
    n, d = Xt.shape
    counts, means = _class_means(Xt, ct, n_classes)
    R = Xt - means[ct]
    R[counts[ct] == 1] = 0.0  # a lone row is its class mean: exactly, not up to rounding
    with _one_blas_thread():
        lam, U = linalg.eigh(R.T @ R / n, check_finite=False, driver="evd")
    lam = np.maximum(lam, 0.0)
    tau = float(lam.sum()) / d
    centre = Xt.mean(axis=0)
    Q = (np.asarray(X[held], dtype=np.float64) - centre) @ U
    M = (means - centre) @ U
    M_sq = (M * M).T
    with np.errstate(divide="ignore"):
        log_prior = np.log(counts / n)

    def at(a: float) -> np.ndarray:
        den = (1.0 - a) * lam + a * tau
        p = 1.0 / np.maximum(den, eigenvalue_floor(den))  # as LDAHead: no spread, identity
        return (Q * p) @ M.T - 0.5 * (p @ M_sq)[None, :] + log_prior

    return at


def ridge_heldout_path(
    X: np.ndarray, codes: np.ndarray, n_classes: int, train: np.ndarray, held: np.ndarray
) -> Callable[[float], np.ndarray]:
    """Decision values on ``held`` of :class:`RidgeHead` (with intercept) fitted on ``train``,
    at any ``α``: one :func:`ridge_path`, then ``O(len(held)·d·K)`` per ``α``."""
    Xt = X[train]
    stats = SufficientStats.from_data(Xt, codes[train])
    path = ridge_path(stats, True, Xt)
    cols = np.asarray(stats.classes[stats.counts > 0], dtype=np.int64)
    Xh = np.asarray(X[held], dtype=np.float64)

    def at(alpha: float) -> np.ndarray:
        W = path.coef(float(alpha))
        out = np.full((held.size, n_classes), -np.inf)
        out[:, cols] = Xh @ W + path.intercept(W)
        return out

    return at


def knn_heldout_logits(
    X: np.ndarray,
    codes: np.ndarray,
    n_classes: int,
    ks: Sequence[int],
    weights: str,
    train: np.ndarray,
    held: np.ndarray,
) -> list[np.ndarray]:
    """``log(vote fraction + 1e-9)`` of :class:`KNNHead` fitted on ``train``, on ``held``, one
    array per ``k`` (``k`` above the training size uses every training row)."""
    T = _normalize_rows(X)
    votes = vote_fractions_per_k(T[held] @ T[train].T, codes[train], n_classes, ks, weights)
    return [np.log(v + _LOG_FLOOR) for v in votes]
