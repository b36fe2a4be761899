"""Coordinates of the logistic probe: class moments, the whitening and the penalty geometries.

``Z = (X - shift) @ T`` for a preprocessing ``T`` (a whitening by the OAS-shrunk pooled
within-class covariance, one common scale, per-feature scales or none), the penalty metric that
expresses one geometry's penalty on another's coordinates, and the LDA classifier in ``Z`` space
(a warm start). Pure math; :mod:`._softmax` solves the problem on these coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy import linalg
from scipy.linalg import blas
from threadpoolctl import ThreadpoolController

from ._lda import oas_shrinkage, shrink

__all__ = ["Preprocessor", "centred_variance", "class_moments", "lda_start", "penalty_metric"]


@cache
def _threadpools() -> ThreadpoolController:
    return ThreadpoolController()


def _one_blas_thread() -> Any:
    """Context for small dense algebra (d×d factorisations, L-BFGS bookkeeping): BLAS threads
    cost more than they save there, many times more on a busy machine."""
    return _threadpools().limit(limits=1, user_api="blas")


_BLOCK_ROWS = 16384  # rows centred at a time by class_moments (bounded temporaries)


def class_moments(
    X: np.ndarray, codes: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts (K,), class means (K, d) float64 and the pooled within-class covariance (d, d).

    Class sums are one sparse one-hot product per block of rows in ``X``'s dtype (no widened
    copy; float32 per block of 16k rows, about 1e-7 relative, ample for a whitening), added
    up in float64; the covariance is one pass of ``centredᵀ centred`` in ``X``'s dtype per
    block (centring first: no cancellation in float32), summed in float64. No ``n × d``
    temporary is made.
    """
    n, d = X.shape
    counts = np.bincount(codes, minlength=n_classes).astype(np.float64)
    sums = np.zeros((n_classes, d))
    for start in range(0, n, _BLOCK_ROWS):
        stop = min(start + _BLOCK_ROWS, n)
        m = stop - start
        onehot = sp.csr_matrix(
            (np.ones(m, dtype=X.dtype), (codes[start:stop], np.arange(m))), shape=(n_classes, m))
        sums += onehot @ X[start:stop]
    means = sums / np.maximum(counts, 1.0)[:, None]
    means_x = means.astype(X.dtype)
    cov = np.zeros((d, d))
    for start in range(0, n, _BLOCK_ROWS):
        stop = min(start + _BLOCK_ROWS, n)
        centred = X[start:stop] - means_x[codes[start:stop]]
        cov += centred.T @ centred
    return counts, means, cov / max(n, 1)


def _shrunk(cov: np.ndarray, n_samples: int) -> np.ndarray:
    """OAS shrinkage, plus a relative 1e-10 ridge so that the result is positive definite."""
    out = shrink(cov, oas_shrinkage(cov, n_samples))
    scale = float(np.trace(out)) / out.shape[0]
    out.flat[:: out.shape[0] + 1] += 1e-10 * scale if scale > 0 else 1.0
    return out


def centred_variance(counts: np.ndarray, means: np.ndarray, cov: np.ndarray) -> float:
    """``E||x - m||²`` from class counts, class means and the pooled within-class covariance
    (``class_moments``): the within-class trace plus the spread of the class means.

    >>> centred_variance(np.array([1.0, 1.0]), np.array([[0.0], [2.0]]), np.zeros((1, 1)))
    1.0
    """
    mean = counts @ means / counts.sum()
    between = float(counts @ np.sum((means - mean) ** 2, axis=1)) / counts.sum()
    return float(np.trace(cov) + between)


@dataclass
class Preprocessor:
    """``Z = (X - shift) @ T``: ``T`` is a matrix, a diagonal (1-D) or ``None`` (identity).

    ``within`` is the OAS-shrunk pooled within-class covariance of ``Z`` and ``means`` the class
    means of ``Z``; together they give the LDA classifier in ``Z`` space.
    """

    shift: np.ndarray
    T: np.ndarray | None
    means: np.ndarray
    within: np.ndarray
    chol: np.ndarray | None = None  # whitening: T = L⁻ᵀ with L this lower Cholesky factor

    @classmethod
    def fit(cls, X: np.ndarray, codes: np.ndarray, n_classes: int, kind: str) -> Preprocessor:
        counts, means, cov = class_moments(X, codes, n_classes)
        return cls.from_moments(counts, means, cov, kind)

    @classmethod
    def from_moments(
        cls, counts: np.ndarray, means: np.ndarray, cov: np.ndarray, kind: str
    ) -> Preprocessor:
        """From class counts (K,), class means (K, d) and the pooled within-class covariance."""
        n, d = int(round(float(counts.sum()))), means.shape[1]
        mean = counts @ means / counts.sum()
        if kind == "none":
            return cls(np.zeros(d), None, means, _shrunk(cov, n))
        if kind == "isotropic":  # centre, one scale for every feature: sklearn's penalty
            total = centred_variance(counts, means, cov)
            scale = np.sqrt(max(total / d, 1e-300))
            T = np.full(d, 1.0 / scale)
            return cls(mean, T, (means - mean) / scale, _shrunk(cov / scale**2, n))
        if kind == "standardize":
            std = np.sqrt(np.maximum(np.diag(cov) + counts @ (means - mean) ** 2 / n, 0.0))
            std[std <= 1e-12 * max(float(std.max()), 1e-300)] = 1.0  # constant features
            within = _shrunk(cov / np.outer(std, std), n)
            return cls(mean, 1.0 / std, (means - mean) / std, within)
        # Whitening by the shrunk covariance Σ = L Lᵀ: Z = (X - mean) L⁻ᵀ has within-class
        # covariance L⁻¹ S L⁻ᵀ ≈ I. The penalty ||V||² = Wᵀ Σ W on raw-space weights W is the
        # same for every square root of Σ (ZCA included); Cholesky is the cheapest.
        with _one_blas_thread():
            L = linalg.cholesky(_shrunk(cov, n), lower=True, check_finite=False)
            L_inv = linalg.solve_triangular(L, np.eye(d), lower=True, check_finite=False)
        return cls(mean, L_inv.T, (means - mean) @ L_inv.T, np.eye(d), L)

    def transform(self, X: np.ndarray, dtype: type) -> np.ndarray:
        """``(X - shift) @ T`` in ``dtype`` (whitening: a triangular solve, half a GEMM's flops)."""
        Z = np.asarray(X, dtype=dtype) - self.shift.astype(dtype)
        if self.T is None:
            return Z
        if self.T.ndim == 1:
            Z *= self.T.astype(dtype)
            return Z
        if self.chol is not None and Z.flags.c_contiguous and Z.dtype in (np.float32, np.float64):
            # Z L⁻ᵀ = (L⁻¹ Zᵀ)ᵀ; Zᵀ is a Fortran-ordered view, solved in place by BLAS trsm
            trsm = blas.strsm if Z.dtype == np.float32 else blas.dtrsm
            out = trsm(1.0, self.chol.astype(Z.dtype), Z.T, side=0, lower=1, overwrite_b=1)
            return np.ascontiguousarray(out.T)
        return Z @ self.T.astype(dtype)

    def rows(
        self, X: np.ndarray, dtype: type, overwrite: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Rows for a :class:`SoftmaxProblem` and the map it applies to its weights: a full
        matrix ``T`` stays a (d, d) ``basis`` (``Z V = (X - shift) (T V)``: no ``O(n d²)``
        transform of the rows, only ``O(d² K)`` per evaluation); otherwise ``transform``.
        ``overwrite``: ``X`` is a copy the caller gives up, centred in place when it can be."""
        if self.T is None or self.T.ndim == 1:
            return self.transform(X, dtype), None
        if overwrite and isinstance(X, np.ndarray) and X.dtype == dtype and X.flags.writeable:
            X -= self.shift.astype(dtype)
            return X, self.T
        return np.asarray(X, dtype=dtype) - self.shift.astype(dtype), self.T

    def to_original(self, V: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Weights ``V`` (d, K) and bias ``c`` on ``Z`` -> the same model on raw ``X``."""
        if self.T is None:
            W = V
        else:
            W = V * self.T[:, None] if self.T.ndim == 1 else self.T @ V
        return W, c - self.shift @ W


def penalty_metric(whitened: Preprocessor, target: Preprocessor) -> np.ndarray | None:
    """``M`` such that ``target``'s penalty ``||V_t||²`` equals ``V_wᵀ M V_w`` on ``whitened``'s
    coordinates (``None``: the identity, when ``target`` is itself the whitening).

    Both describe the same raw-space weights ``W = T_w V_w = T_t V_t`` (shifts only move the
    unpenalised intercept), so solving in whitened coordinates with this penalty is the
    ``target`` problem, reparametrised: its data term is well conditioned whatever the penalty.

    >>> X = np.random.default_rng(0).normal(size=(50, 3)) * [1.0, 10.0, 0.1]
    >>> counts, means, cov = class_moments(X, np.arange(50) % 2, 2)
    >>> w = Preprocessor.from_moments(counts, means, cov, "whiten")
    >>> iso = Preprocessor.from_moments(counts, means, cov, "isotropic")
    >>> V_w = np.ones((3, 2)); V_t = (w.T @ V_w) / iso.T[:, None]
    >>> bool(np.isclose(np.vdot(V_w, penalty_metric(w, iso) @ V_w), np.vdot(V_t, V_t)))
    True
    """
    if target.chol is not None or target is whitened:
        return None
    if whitened.T is None or whitened.T.ndim != 2:
        raise ValueError("penalty_metric needs a whitening preprocessor as its first argument.")
    if target.T is None:
        A = whitened.T  # V_t = W
    elif target.T.ndim == 1:
        A = whitened.T / target.T[:, None]  # V_t = W / t, row by row
    else:
        A = linalg.solve(target.T, whitened.T, check_finite=False)
    return A.T @ A


def lda_start(pre: Preprocessor, log_prior: np.ndarray) -> np.ndarray:
    """The shrunk-covariance LDA classifier on ``Z``, as a flat ``[V.ravel(), c]`` vector."""
    M = pre.means
    with _one_blas_thread():
        V = linalg.solve(pre.within, M.T, assume_a="pos", check_finite=False)
    c = -0.5 * np.einsum("kd,dk->k", M, V) + log_prior
    return np.concatenate([V.ravel(), c - c.mean()])
