"""Ridge classifier head: ±1 one-hot targets, whole regularisation path from one eigh."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import linalg

from .._threads import small_linalg
from .._validation import check_param_choice, check_param_float
from ..exceptions import InputError
from ._holdout import stratified_holdout
from ._registry import register_head
from ._stats import SufficientStats
from ._stats_head import StatsHead, mask_empty_classes

__all__ = ["RidgeHead", "RidgePath", "ridge_path", "gcv_scores", "select_alpha"]

# np.logspace(-3, 3, 13) as plain floats (a tuple, so the default is immutable and clonable).
_DEFAULT_ALPHAS = tuple(10.0 ** (k / 2) for k in range(-6, 7))
_TIE_RTOL = 1e-9  # scores this close to the best count as ties (robust to summation order)


@dataclass(frozen=True)
class RidgePath:
    """The ridge problem in the eigenbasis of ``A = XcᵀXc``, for present classes only.

    ``evals``/``evecs`` diagonalise ``A``; ``P = Vᵀ B`` with ``B = XcᵀYc``; ``y_sq`` is
    ``||Yc||²``; ``x_mean``/``y_mean`` undo the centring (zeros without an intercept).
    """

    evals: np.ndarray  # (d,)
    evecs: np.ndarray  # (d, d)
    P: np.ndarray  # (d, K)
    y_sq: float
    x_mean: np.ndarray  # (d,)
    y_mean: np.ndarray  # (K,)
    n_samples: float

    def coef(self, alpha: float) -> np.ndarray:
        """``W(α) = V diag(1/(Λ+α)) P``, shape (d, K)."""
        return self.evecs @ (self.P / (self.evals + alpha)[:, None])

    def intercept(self, W: np.ndarray) -> np.ndarray:
        return self.y_mean - self.x_mean @ W


def ridge_path(
    stats: SufficientStats, fit_intercept: bool = True, rows: np.ndarray | None = None
) -> RidgePath:
    """Diagonalise the ridge problem once; every ``α`` then costs ``O(d·K)``.

    Targets are ``+1`` for the row's class and ``-1`` elsewhere (sklearn's RidgeClassifier
    coding), over the K classes that have rows. From the statistics:
    ``XᵀY[:, c] = 2 S_c - T`` and, centred, ``XcᵀYc[:, c] = 2 (S_c - n_c x̄)``.

    ``rows``: the ``n`` rows the statistics hold, when the caller has them. With at most half
    as many rows as features, ``A = XcᵀXc`` has rank below ``n`` and ``B = XcᵀYc`` lies in its
    range, so the eigenpairs with a non-zero eigenvalue give the same solution and the same
    GCV for every ``α`` (a zero eigenvalue adds nothing to either); they come from the
    ``n × n`` matrix ``Xc Xcᵀ`` in ``O(n²d + n³)`` instead of ``O(d³)`` (a 2048-wide random
    projection of 16 rows: one 16×16 eigh instead of a 2048×2048 one).
    """
    present = stats.counts > 0
    n = stats.n_samples
    counts = stats.counts[present]
    sums = stats.sums[present]
    total = stats.total_sum
    if fit_intercept:
        x_mean = total / n
        B = 2.0 * (sums - counts[:, None] * x_mean).T
        y_mean = (2.0 * counts - n) / n
        y_sq = float(np.sum(4.0 * counts * (n - counts) / n))
    else:
        x_mean = np.zeros_like(total)
        B = (2.0 * sums - total).T
        y_mean = np.zeros(counts.size)
        y_sq = float(n * counts.size)
    if rows is not None and 2 * rows.shape[0] <= rows.shape[1]:
        evals, evecs = _thin_eigh(np.asarray(rows, dtype=np.float64) - x_mean)
    else:
        A = stats.total_scatter() if fit_intercept else stats.gram_full
        with small_linalg(A.shape[0]):
            evals, evecs = linalg.eigh(A, check_finite=False, driver="evd")
        evals = np.maximum(evals, 0.0)
    return RidgePath(evals, evecs, evecs.T @ B, y_sq, x_mean, y_mean, n)


def _thin_eigh(Xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs ``(Λ, V)`` of ``XcᵀXc`` with a non-zero eigenvalue, from ``Xc Xcᵀ = U Λ Uᵀ``:
    ``V = Xcᵀ U Λ^(-1/2)`` (orthonormal columns). Eigenvalues below ``n·eps·λ_max`` count as
    zero."""
    with small_linalg(Xc.shape[0]):
        evals, U = linalg.eigh(Xc @ Xc.T, check_finite=False)
    top = float(evals.max(initial=0.0))
    keep = evals > Xc.shape[0] * np.finfo(np.float64).eps * top
    evals = evals[keep]
    return evals, (Xc.T @ U[:, keep]) / np.sqrt(evals)


def gcv_scores(path: RidgePath, alphas: Sequence[float]) -> np.ndarray:
    """Generalised cross-validation ``n·RSS/(n - df)²`` for each ``α`` (lower is better).

    ``RSS(α) = ||Yc||² - Σ_j p_j² (2/(Λ_j+α) - Λ_j/(Λ_j+α)²)`` with ``p_j² = Σ_c P_jc²``, and
    ``df(α) = Σ_j Λ_j/(Λ_j+α)``: exact from statistics, so it survives ``partial_fit``.
    """
    lam = path.evals
    p_sq = np.einsum("jc,jc->j", path.P, path.P)
    n = path.n_samples
    out = np.empty(len(alphas))
    for i, a in enumerate(alphas):
        inv = 1.0 / (lam + a)
        rss = max(path.y_sq - float(p_sq @ (2.0 * inv - lam * inv * inv)), 0.0)
        dof = float(np.sum(lam * inv))
        out[i] = n * rss / (n - dof) ** 2 if n - dof > 0 else np.inf
    return out


def select_alpha(alphas: Sequence[float], scores: np.ndarray, *, higher_is_better: bool) -> int:
    """Index of the best score; near-ties (relative ``1e-9``) go to the largest ``α``."""
    s = -scores if higher_is_better else scores
    s = np.where(np.isnan(s), np.inf, s)
    best = float(np.min(s))
    slack = _TIE_RTOL * max(abs(best), np.finfo(float).tiny) if np.isfinite(best) else 0.0
    ties = np.flatnonzero(s <= best + slack)
    return int(ties[np.argmax(np.asarray(alphas, dtype=np.float64)[ties])])


@register_head("ridge")
class RidgeHead(StatsHead):
    """Ridge regression on ±1 one-hot targets, like sklearn's RidgeClassifier, from statistics.

    One eigendecomposition of the centred Gram matrix gives the solution for every ``α`` in
    ``alphas``; the regularisation is chosen by generalised cross-validation (exact from the
    statistics) or on a held-out stratified split.

    Parameters
    ----------
    alphas : sequence of float > 0, default=np.logspace(-3, 3, 13)
        Candidate regularisation strengths.
    alpha_selection : {"gcv", "val"}, default="gcv"
        ``"gcv"``: generalised cross-validation ``n·RSS/(n - df)²``. ``"val"``: ``fit`` holds out
        a stratified ``validation_fraction`` of the rows, picks the ``α`` with the best validation
        accuracy (ties go to the larger ``α``), then refits on all rows. ``partial_fit`` and
        ``fit_from_stats`` have no rows to hold out and always use GCV.
    validation_fraction : float in (0, 1), default=0.1
    fit_intercept : bool, default=True
    random_state : int, RandomState or None, default=0
        Seeds the validation split.

    Attributes
    ----------
    stats_ : SufficientStats
    alpha_ : float
        The chosen ``α``.
    alpha_scores_ : ndarray of shape (n_alphas,)
        GCV (lower is better) or validation accuracy (higher is better) per ``α``.
    coef_ : ndarray of shape (n_classes, n_features)
    intercept_ : ndarray of shape (n_classes,)
        ``-inf`` for a class that has no rows yet.

    Notes
    -----
    For two classes sklearn fits one column; ours are that column and its negative, so
    ``coef_[1]`` equals sklearn's ``coef_[0]`` and ``decision_function`` is twice sklearn's.

    Examples
    --------
    >>> X = np.array([[0.0, 1.0], [0.1, 0.9], [1.0, 0.0], [0.9, 0.2]])
    >>> RidgeHead(alphas=(0.1, 1.0)).fit(X, [0, 0, 1, 1]).predict(np.array([[1.0, 0.1]])).tolist()
    [1]
    """

    _needs_squares = False  # the Gram matrix and class sums

    def __init__(
        self,
        alphas: Sequence[float] = _DEFAULT_ALPHAS,
        alpha_selection: str = "gcv",
        validation_fraction: float = 0.1,
        fit_intercept: bool = True,
        random_state: Any = 0,
    ) -> None:
        self.alphas = alphas
        self.alpha_selection = alpha_selection
        self.validation_fraction = validation_fraction
        self.fit_intercept = fit_intercept
        self.random_state = random_state

    def _alphas(self) -> np.ndarray:
        return np.atleast_1d(np.asarray(self.alphas, dtype=np.float64))

    def _check_params(self) -> None:
        try:
            a = self._alphas()
        except (TypeError, ValueError):
            a = np.array([np.nan])
        if a.ndim != 1 or a.size == 0 or not np.isfinite(a).all() or (a <= 0).any():
            raise InputError(
                "The 'alphas' parameter of RidgeHead must be a non-empty sequence of floats in "
                f"the range (0, inf). Got {self.alphas!r} instead."
            )
        check_param_choice(self.alpha_selection, "alpha_selection", "RidgeHead", ("gcv", "val"))
        check_param_float(self.validation_fraction, "validation_fraction", "RidgeHead", 0.0, 1.0,
                          low_open=True)  # fmt: skip

    def _solve(
        self, stats: SufficientStats, rows: tuple[np.ndarray, np.ndarray] | None = None
    ) -> None:
        alphas = self._alphas()
        path = ridge_path(stats, self.fit_intercept, None if rows is None else rows[0])
        scores = None
        if rows is not None and self.alpha_selection == "val" and alphas.size > 1:
            scores = self._validation_scores(*rows, alphas)
        if scores is None:
            self._set_solution(stats, path, alphas, gcv_scores(path, alphas), higher=False)
        else:
            self._set_solution(stats, path, alphas, scores, higher=True)

    def _validation_scores(
        self, X: np.ndarray, y: np.ndarray, alphas: np.ndarray
    ) -> np.ndarray | None:
        """Held-out accuracy per ``α`` (stratified split), or ``None`` if nothing can be held out."""
        split = stratified_holdout(y, self.validation_fraction, self.random_state)
        if split is None:
            warnings.warn(
                "RidgeHead could not hold out validation rows (every class has one row); "
                "choosing alpha by GCV instead.",
                UserWarning,
                stacklevel=5,  # the caller of fit
            )
            return None
        train, val = split
        train_stats = SufficientStats.from_data(X[train], y[train])
        path = ridge_path(train_stats, self.fit_intercept, X[train])
        labels = train_stats.classes[train_stats.counts > 0]
        Xv = np.asarray(X[val], dtype=np.float64)
        scores = np.empty(alphas.size)
        for i, a in enumerate(alphas):
            W = path.coef(float(a))
            pred = labels[np.argmax(Xv @ W + path.intercept(W), axis=1)]
            scores[i] = float(np.mean(pred == y[val]))
        return scores

    def _set_solution(
        self,
        stats: SufficientStats,
        path: RidgePath,
        alphas: np.ndarray,
        scores: np.ndarray,
        *,
        higher: bool,
    ) -> None:
        best = select_alpha(alphas, scores, higher_is_better=higher)
        self.alpha_ = float(alphas[best])
        self.alpha_scores_ = np.asarray(scores, dtype=np.float64)
        present = stats.counts > 0
        W = path.coef(self.alpha_)
        coef = np.zeros((stats.n_classes, stats.n_features))
        intercept = np.full(stats.n_classes, -np.inf)
        coef[present] = W.T
        intercept[present] = path.intercept(W)
        self.coef_, self.intercept_ = coef, intercept

    def _logits(self, X: np.ndarray) -> np.ndarray:
        z = np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_
        return mask_empty_classes(z, self.stats_.counts)
