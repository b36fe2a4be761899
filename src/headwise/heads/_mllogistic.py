"""One-vs-rest logistic regression for multi-label targets: every label in one L-BFGS run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import linalg
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import clone

from .._validation import check_param_choice, check_param_float, check_param_grid, check_param_int
from ._lda import oas_shrinkage, shrink
from ._mlbase import MultiLabelHead
from ._registry import register_head

__all__ = ["MultiLabelLogisticHead", "bce_terms", "whitening"]


def whitening(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, T)`` with ``(X - mean) @ T`` of identity covariance (OAS-shrunk, Cholesky)."""
    X64 = np.asarray(X, dtype=np.float64)
    mean = X64.mean(axis=0)
    Xc = X64 - mean
    cov = Xc.T @ Xc / X64.shape[0]
    S = shrink(cov, oas_shrinkage(cov, X64.shape[0]))
    scale = float(np.trace(S)) / S.shape[0]
    S.flat[:: S.shape[0] + 1] += 1e-10 * scale if scale > 0 else 1.0
    L = linalg.cholesky(S, lower=True, check_finite=False)
    return mean, linalg.solve_triangular(L, np.eye(S.shape[0]), lower=True, check_finite=False).T


def bce_terms(
    Z: np.ndarray, Y: np.ndarray, M: np.ndarray, V: np.ndarray, c: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Summed binary cross-entropy over known entries (mask ``M``) and its gradients.

    ``Y`` is 0/1 (unknown entries may hold anything; ``M`` is 0 there). Every label is its own
    logistic regression; summing them lets one L-BFGS run fit all labels at once.

    >>> f, gV, gc = bce_terms(np.zeros((2, 1)), np.array([[1.0], [0.0]]), np.ones((2, 1)),
    ...                       np.zeros((1, 1)), np.zeros(1))
    >>> round(f, 6), gc.tolist()  # 2 log 2; the two residuals cancel
    (1.386294, [0.0])
    """
    z = (Z @ V.astype(Z.dtype)).astype(np.float64) + c
    loss = np.logaddexp(0.0, z) - Y * z
    R = (expit(z) - Y) * M
    f = float(np.sum(loss * M))
    return f, (Z.T @ R.astype(Z.dtype)).astype(np.float64), R.sum(axis=0)


@dataclass
class _Problem:
    Z: np.ndarray
    Y: np.ndarray  # 0/1, unknown entries 0
    M: np.ndarray  # 1 where known

    def __call__(self, theta: np.ndarray, inv_C: float) -> tuple[float, np.ndarray]:
        d, L = self.Z.shape[1], self.Y.shape[1]
        V, c = theta[: d * L].reshape(d, L), theta[d * L :]
        f, gV, gc = bce_terms(self.Z, self.Y, self.M, V, c)
        n = max(float(self.Z.shape[0]), 1.0)
        f += 0.5 * inv_C * float(np.vdot(V, V))
        return f / n, np.concatenate([(gV + inv_C * V).ravel(), gc]) / n

    def start(self) -> np.ndarray:
        pos = (self.Y * self.M).sum(axis=0) + 0.5
        neg = ((1.0 - self.Y) * self.M).sum(axis=0) + 0.5
        return np.concatenate([np.zeros(self.Z.shape[1] * self.Y.shape[1]), np.log(pos / neg)])

    def solve(self, theta: np.ndarray, C: float, max_iter: int, tol: float) -> tuple[np.ndarray, int]:
        opts = {"maxiter": max_iter, "gtol": tol, "ftol": 64 * np.finfo(float).eps, "maxcor": 10}
        res = minimize(self, theta, args=(1.0 / C,), jac=True, method="L-BFGS-B", options=opts)
        return res.x, int(res.nit)

    def mean_loss(self, theta: np.ndarray) -> float:
        d, L = self.Z.shape[1], self.Y.shape[1]
        f, _, _ = bce_terms(self.Z, self.Y, self.M, theta[: d * L].reshape(d, L), theta[d * L :])
        return f / max(float(self.M.sum()), 1.0)


def _problem(Z: np.ndarray, Y: np.ndarray) -> _Problem:
    M = (~np.isnan(Y)).astype(np.float64)
    return _Problem(Z, np.nan_to_num(Y), M)


@register_head("mllogistic")
class MultiLabelLogisticHead(MultiLabelHead):
    """One-vs-rest logistic regression, all labels sharing one L-BFGS run on whitened features.

    Minimises ``Σ_i Σ_l m_il BCE(z_il, y_il) + ||V||² / (2C)``, where ``m_il`` is 0 for unknown
    entries (partial labels are masked, not counted as negatives). Rows are whitened by the
    OAS-shrunk covariance first, so ``C`` means the same whatever the encoder. With ``C=None``,
    ``fit`` holds out ``validation_fraction`` of the rows, walks ``Cs`` from the strongest penalty
    (warm starts) and keeps the ``C`` with the lowest held-out cross-entropy. With
    ``threshold="f1"`` the per-label thresholds are tuned on out-of-fold logits at that ``C`` (see
    :class:`MultiLabelHead`); the final fit on all rows is warm-started from the path and keeps the
    same whitening (so ``C`` means the same penalty).

    Parameters
    ----------
    Cs : sequence of float > 0, default=(0.003, 0.01, 0.03, 0.1, 0.3)
    C : float > 0 or None, default=None
    threshold : "f1" or float, default="f1"
    top_k : int or None, default=None
    preprocess : {"whiten", "none"}, default="whiten"
        ``"none"`` solves exactly sklearn's ``LogisticRegression(C)`` problem per label (pass
        ``Cs`` suited to the scale of the features).
    validation_fraction : float in (0, 1), default=0.1
    max_iter : int, default=500
    tol : float, default=1e-3
        Stop when the largest gradient entry of the mean loss is below ``tol``.
    random_state : int, RandomState or None, default=0

    Attributes
    ----------
    classes_, coef_ (n_labels, n_features), intercept_ (n_labels,), C_, thresholds_,
    val_losses_ : held-out mean cross-entropy per ``C`` (NaN without a holdout), n_iter_.

    Examples
    --------
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]] * 3)
    >>> head = MultiLabelLogisticHead(C=10.0, threshold=0.0)
    >>> head.fit(X, [["a"], ["b"], ["a", "b"], []] * 3).predict_labels(np.array([[1.0, 1.0]]))
    [['a', 'b']]
    """

    def __init__(
        self,
        Cs: Sequence[float] = (0.003, 0.01, 0.03, 0.1, 0.3),
        C: float | None = None,
        threshold: float | str = "f1",
        top_k: int | None = None,
        preprocess: str = "whiten",
        validation_fraction: float = 0.1,
        max_iter: int = 500,
        tol: float = 1e-3,
        random_state: Any = 0,
    ) -> None:
        self.Cs = Cs
        self.C = C
        self.threshold = threshold
        self.top_k = top_k
        self.preprocess = preprocess
        self.validation_fraction = validation_fraction
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def _grid(self) -> np.ndarray:
        owner = type(self).__name__
        Cs = check_param_grid(self.Cs, self.C, owner)
        check_param_int(self.max_iter, "max_iter", owner)
        check_param_float(self.tol, "tol", owner, 0.0, low_open=True)
        check_param_choice(self.preprocess, "preprocess", owner, ("whiten", "none"))
        return Cs

    def _whitening(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.preprocess == "none":
            return np.zeros(X.shape[1]), np.eye(X.shape[1])
        return whitening(X)

    def _selects_on_validation(self) -> bool:
        return self.C is None and self._grid().size > 1

    def _prep(self, X: np.ndarray) -> np.ndarray:
        dtype = np.float32 if X.dtype == np.float32 else np.float64
        return ((np.asarray(X, dtype=np.float64) - self._mean) @ self._T).astype(dtype)

    def _fit_select(
        self, X: np.ndarray, Y: np.ndarray, classes: np.ndarray, val: tuple[np.ndarray, np.ndarray]
    ) -> None:
        Cs = self._grid()
        self._mean, self._T = self._whitening(X)
        part, held = _problem(self._prep(X), Y), _problem(self._prep(val[0]), val[1])
        theta, thetas = part.start(), []
        self.val_losses_ = np.full(Cs.size, np.nan)
        for j, C in enumerate(Cs):
            theta, _ = part.solve(theta, float(C), self.max_iter, self.tol)
            self.val_losses_[j] = held.mean_loss(theta)
            thetas.append(theta)
        best = int(np.argmin(self.val_losses_))
        self._selected_C = float(Cs[best])
        self._warm = thetas[best]  # the refit starts here, with the same whitening

    def _fold_copy(self) -> MultiLabelLogisticHead:
        est = clone(self)
        if getattr(self, "_selected_C", None) is not None:  # the chosen C, warm start and whitening
            est.set_params(C=self._selected_C)
            est._mean, est._T, est._warm = self._mean, self._T, self._warm
        return est

    def _fit_core(self, X: np.ndarray, Y: np.ndarray, classes: np.ndarray) -> None:
        Cs = self._grid()
        C = getattr(self, "_selected_C", None)
        if C is None:
            C = float(Cs[(Cs.size - 1) // 2])
        if not hasattr(self, "val_losses_"):
            self.val_losses_ = np.full(Cs.size, np.nan)
        if getattr(self, "_warm", None) is None:
            self._mean, self._T = self._whitening(X)
        prob = _problem(self._prep(X), Y)
        start = self._warm if getattr(self, "_warm", None) is not None else prob.start()
        theta, self.n_iter_ = prob.solve(start, C, self.max_iter, self.tol)
        d, L = X.shape[1], Y.shape[1]
        V, c = theta[: d * L].reshape(d, L), theta[d * L :]
        W = self._T @ V
        self.C_ = C
        self.coef_ = np.ascontiguousarray(W.T)
        self.intercept_ = c - self._mean @ W
        for name in ("_mean", "_T", "_selected_C", "_warm"):
            self.__dict__.pop(name, None)

    def _logits(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_
