"""Linear discriminant analysis head: pooled, shrunk within-class covariance, closed form."""

from __future__ import annotations

import warnings
from numbers import Real
from typing import Any

import numpy as np
from scipy import linalg

from .._threads import small_linalg
from ..exceptions import InputError
from ._registry import register_head
from ._stats import SufficientStats
from ._stats_head import StatsHead, mask_empty_classes, safe_class_means

__all__ = ["LDAHead", "eigenvalue_floor", "oas_shrinkage", "ledoit_wolf_shrinkage", "solve_lda"]

_SHRINKAGE_NAMES = ("auto", "oas", "ledoit-wolf")


def oas_shrinkage(cov: np.ndarray, n_samples: float) -> float:
    """Oracle Approximating Shrinkage intensity of ``cov``, as sklearn.covariance's ``_oas``.

    Needs only the covariance and the row count, so it is exact under merges and ``partial_fit``.

    >>> oas_shrinkage(np.diag([1.0, 1.0]), 10)  # already a multiple of I: shrink fully
    1.0
    """
    d = cov.shape[0]
    if d == 1:
        return 0.0  # one feature: every shrinkage gives the same estimate
    alpha = float(np.mean(cov**2))
    mu = float(np.trace(cov)) / d
    num = alpha + mu * mu
    den = (n_samples + 1.0) * (alpha - mu * mu / d)
    return 1.0 if den == 0 else float(min(num / den, 1.0))


def ledoit_wolf_shrinkage(
    X: np.ndarray, y: np.ndarray, classes: np.ndarray, means: np.ndarray
) -> float:
    """Ledoit-Wolf intensity of the pooled class-centred rows (needs the rows, not just stats).

    Equals ``sklearn.covariance.ledoit_wolf_shrinkage`` of ``X - means[class of row]``, where
    ``means`` (C, d) are in the order of the sorted ``classes``.
    """
    from sklearn.covariance import ledoit_wolf_shrinkage as _lw

    codes = np.searchsorted(classes, y)
    centred = np.asarray(X, dtype=np.float64) - means[codes]
    return float(_lw(centred, assume_centered=True))


def shrink(cov: np.ndarray, shrinkage: float) -> np.ndarray:
    """``(1 - a) Σ + a (tr Σ / d) I``."""
    d = cov.shape[0]
    out = (1.0 - shrinkage) * cov
    out.flat[:: d + 1] += shrinkage * np.trace(cov) / d
    return out


def eigenvalue_floor(evals: np.ndarray, tol: float = 1e-8) -> np.ndarray:
    """The least eigenvalue LDA lets a covariance have, per row of ``evals`` (last axis, kept
    as a length-1 axis): ``tol`` times the largest, or 1 when all are zero (no spread within
    any class: the identity)."""
    top = np.max(evals, axis=-1, keepdims=True, initial=0.0)
    return np.where(top > 0, max(tol, float(np.finfo(np.float64).eps)) * top, 1.0)


def _solve_spd(cov: np.ndarray, rhs: np.ndarray, tol: float) -> np.ndarray:
    """``cov⁻¹ rhs`` for a symmetric PSD ``cov``; eigenvalues below ``tol·λ_max`` are floored."""
    with small_linalg(cov.shape[0]):  # a d×d job: one BLAS thread (see headwise._threads)
        return _solve_spd_unlimited(cov, rhs, tol)


def _solve_spd_unlimited(cov: np.ndarray, rhs: np.ndarray, tol: float) -> np.ndarray:
    try:
        factor = linalg.cho_factor(cov, lower=True, check_finite=False)
        diag = np.diag(factor[0]) ** 2
        if diag.min() > tol * diag.max():
            return linalg.cho_solve(factor, rhs, check_finite=False)
    except linalg.LinAlgError:
        pass
    evals, evecs = linalg.eigh(cov, check_finite=False)
    top = float(evals.max(initial=0.0))
    floor = float(eigenvalue_floor(evals, tol)[0])
    if evals.min() < floor:
        warnings.warn(
            f"The within-class covariance is singular or nearly so (smallest eigenvalue "
            f"{evals.min():.3g}, largest {top:.3g}); eigenvalues below {floor:.3g} are raised "
            "to it. Set shrinkage='oas' or a float in (0, 1] to regularise it explicitly.",
            RuntimeWarning,
            stacklevel=7,  # the caller of fit / partial_fit / fit_from_stats
        )
        evals = np.maximum(evals, floor)
    return (evecs / evals) @ (evecs.T @ rhs)


def solve_lda(
    stats: SufficientStats,
    shrinkage: float,
    priors: np.ndarray,
    tol: float = 1e-8,
    within: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (C, d) and intercepts (C,) of LDA from statistics.

    ``Σ = within_scatter / n`` (or ``within`` when the caller already has it) shrunk by
    ``shrinkage``; ``w_c = Σ_s⁻¹ μ_c`` and ``b_c = -½ μ_cᵀ w_c + log prior_c``. Classes
    without rows get ``w_c = 0``, ``b_c = -inf``.
    """
    present = stats.counts > 0
    means = safe_class_means(stats)
    if within is None:
        within = stats.within_scatter() / stats.n_samples
    cov = shrink(within, shrinkage)
    coef = np.zeros_like(means)
    coef[present] = _solve_spd(cov, means[present].T, tol).T
    with np.errstate(divide="ignore"):
        log_priors = np.log(priors)
    intercept = -0.5 * np.einsum("ij,ij->i", means, coef) + log_priors
    intercept[~present] = -np.inf
    return coef, intercept


def _needs_rows(where: str) -> InputError:
    return InputError(
        f"shrinkage='ledoit-wolf' needs the rows themselves, so {where} cannot use it: the "
        "sufficient statistics do not hold the fourth moments it is computed from. Use "
        "shrinkage='oas' (exact from statistics) or a float for incremental fitting."
    )


@register_head("lda")
class LDAHead(StatsHead):
    """Linear discriminant analysis with a shrunk pooled covariance, fitted from statistics.

    ``Σ = within_scatter / n`` is shrunk towards ``(tr Σ / d) I``:
    ``Σ_s = (1 - a) Σ + a (tr Σ / d) I``. Logits are ``x·w_c - ½ μ_cᵀ Σ_s⁻¹ μ_c + log prior_c``
    with ``w_c = Σ_s⁻¹ μ_c``.

    Parameters
    ----------
    shrinkage : {"auto", "oas", "ledoit-wolf"}, float in [0, 1] or None, default="auto"
        ``"auto"`` and ``"oas"`` use the Oracle Approximating Shrinkage computed from Σ alone
        (sklearn.covariance's ``oas`` formula), which is exact under ``partial_fit`` and merges.
        Note sklearn's LDA ``"auto"`` means Ledoit-Wolf on standardised data instead.
        ``"ledoit-wolf"`` needs fourth moments of the rows, which the statistics do not hold:
        ``fit`` computes it in one extra pass over the class-centred rows, while
        ``partial_fit`` and ``fit_from_stats`` refuse it (use ``"oas"`` or a float there).
        A float is used as is; ``None`` means no shrinkage.
    priors : {"empirical", "uniform"} or array-like of shape (n_classes,), default="empirical"
        Class priors: the class frequencies, equal over the classes that have rows, or given
        (in ``classes_`` order; normalised to sum to one).
    tol : float, default=1e-8
        Eigenvalues of ``Σ_s`` below ``tol`` times the largest are floored (with a warning).

    Attributes
    ----------
    stats_ : SufficientStats
    shrinkage_ : float
        The shrinkage intensity used.
    priors_ : ndarray of shape (n_classes,)
    means_ : ndarray of shape (n_classes, n_features)
    coef_ : ndarray of shape (n_classes, n_features)
    intercept_ : ndarray of shape (n_classes,)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 1, (20, 3)), rng.normal(3, 1, (20, 3))]
    >>> head = LDAHead(shrinkage=0.1).fit(X, [0] * 20 + [1] * 20)
    >>> head.predict(np.array([[3.0, 3.0, 3.0]])).tolist(), head.shrinkage_
    ([1], 0.1)
    """

    _needs_squares = False  # the Gram matrix and class sums

    def __init__(
        self, shrinkage: str | float | None = "auto", priors: Any = "empirical", tol: float = 1e-8
    ) -> None:
        self.shrinkage = shrinkage
        self.priors = priors
        self.tol = tol

    def _check_params(self) -> None:
        s = self.shrinkage
        if isinstance(s, str):
            if s not in _SHRINKAGE_NAMES:
                raise InputError(
                    f"The 'shrinkage' parameter of LDAHead must be one of {_SHRINKAGE_NAMES}, a "
                    f"float in [0, 1] or None. Got {s!r} instead."
                )
        elif s is not None and not (
            isinstance(s, Real) and not isinstance(s, bool) and 0.0 <= s <= 1.0
        ):
            raise InputError(
                "The 'shrinkage' parameter of LDAHead must be 'auto', 'oas', 'ledoit-wolf', a "
                f"float in [0, 1] or None. Got {s!r} instead."
            )
        if isinstance(self.priors, str) and self.priors not in ("empirical", "uniform"):
            raise InputError(
                "The 'priors' parameter of LDAHead must be 'empirical', 'uniform' or an array "
                f"of class priors. Got {self.priors!r} instead."
            )
        if not (isinstance(self.tol, Real) and self.tol >= 0):
            raise InputError(
                f"The 'tol' parameter of LDAHead must be a float in [0, inf). Got {self.tol!r}."
            )

    def _check_incremental(self, where: str) -> None:
        if self.shrinkage == "ledoit-wolf":
            raise _needs_rows(where)

    def _resolve_shrinkage(
        self,
        stats: SufficientStats,
        rows: tuple[np.ndarray, np.ndarray] | None,
        within: np.ndarray,
    ) -> float:
        s = self.shrinkage
        if s is None:
            return 0.0
        if s == "ledoit-wolf":
            if rows is None:
                raise _needs_rows("fitting from statistics")
            X, y = rows
            return ledoit_wolf_shrinkage(X, y, stats.classes, safe_class_means(stats))
        if isinstance(s, str):  # "auto" / "oas"
            return oas_shrinkage(within, stats.n_samples)
        return float(s)

    def _resolve_priors(self, stats: SufficientStats) -> np.ndarray:
        present = stats.counts > 0
        if isinstance(self.priors, str):
            if self.priors == "empirical":
                return stats.counts / stats.n_samples
            return present / present.sum()
        p = np.asarray(self.priors, dtype=np.float64).ravel()
        if p.shape != (stats.n_classes,) or not np.isfinite(p).all() or (p < 0).any():
            raise InputError(
                f"The 'priors' of LDAHead must be {stats.n_classes} non-negative numbers, one per "
                f"class in {stats.classes.tolist()}. Got {np.asarray(self.priors).tolist()}."
            )
        if p.sum() <= 0:
            raise InputError("The 'priors' of LDAHead sum to zero; give at least one positive.")
        return p / p.sum()

    def _solve(
        self, stats: SufficientStats, rows: tuple[np.ndarray, np.ndarray] | None = None
    ) -> None:
        within = stats.within_scatter() / stats.n_samples  # one d×d pass, shared
        self.shrinkage_ = self._resolve_shrinkage(stats, rows, within)
        self.priors_ = self._resolve_priors(stats)
        self.means_ = safe_class_means(stats)
        self.coef_, self.intercept_ = solve_lda(
            stats, self.shrinkage_, self.priors_, self.tol, within
        )

    def _logits(self, X: np.ndarray) -> np.ndarray:
        z = np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_
        return mask_empty_classes(z, self.stats_.counts)
