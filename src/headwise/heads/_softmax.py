"""Pure math of the logistic probe: the softmax objective and its L-BFGS solves over C.

The problem solved for each ``C`` is ``min_{V,c} Σ_i s_i CE(z_i V + c, y_i) + Vᵀ M V / (2C)`` on
preprocessed rows ``z = (x - shift) @ T`` (``M = I``, or another geometry's penalty expressed on
these coordinates). A whitening ``T`` is not applied to the rows: the problem keeps the centred
rows and multiplies the (d, K) weights by ``T`` instead. L-BFGS runs on ``V = R u`` with a
preconditioner ``R`` that makes the penalised Hessian about isotropic. With few rows (at most 16
per class, e.g. few-shot), where those ``(d, d)`` products on the weights would cost as much as
the rows, the rows are instead turned once into the penalty's eigenbasis and the same L-BFGS
runs there with a diagonal penalty (:meth:`SoftmaxProblem.solve`). Big matrix products run in
the dtype of the rows (float32 for float32 embeddings); objective, gradient and everything handed
to scipy are float64. The coordinates themselves (class moments, whitening, penalty metrics) are
in :mod:`._whiten`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from scipy import linalg
from scipy.optimize import minimize, minimize_scalar
from scipy.special import log_softmax

from ._lbfgs import lbfgs
from ._whiten import (  # re-exported: the probe's coordinates, in their own module
    Preprocessor,
    _one_blas_thread,
    _threadpools,
    class_moments,
    lda_start,
    penalty_metric,
)

__all__ = [
    "ChunkedSoftmaxProblem",
    "Preprocessor",
    "SoftmaxProblem",
    "class_moments",
    "lda_start",
    "penalty_metric",
    "softmax_objective",
    "softmax_terms",
]


def softmax_objective(
    W: np.ndarray,
    b: np.ndarray,
    X: np.ndarray,
    codes: np.ndarray,
    C: float,
    sample_weight: np.ndarray | None = None,
) -> float:
    """``Σ_i s_i CE_i + ||W||² / (2C)`` for weights ``W`` (K, d) and intercepts ``b`` (K,).

    >>> X, y = np.eye(2), np.array([0, 1])
    >>> round(softmax_objective(np.zeros((2, 2)), np.zeros(2), X, y, 1.0), 6)  # 2 log 2
    1.386294
    """
    logp = log_softmax(np.asarray(X, dtype=np.float64) @ W.T + b, axis=1)
    ce = -logp[np.arange(len(codes)), codes]
    s = np.ones(len(codes)) if sample_weight is None else sample_weight
    return float(s @ ce + 0.5 / C * np.sum(W * W))


def softmax_terms(
    Z: np.ndarray,
    codes: np.ndarray,
    s: np.ndarray | None,
    V: np.ndarray,
    c: np.ndarray,
    out: np.ndarray | None = None,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Summed (weighted) cross-entropy of rows ``Z`` and its gradients in ``V`` and ``c``.

    Matrix products run in ``Z``'s dtype; the returned sums are float64. Rows can be split into
    chunks and the three outputs added: that is how the out-of-core problem evaluates them.
    ``out`` is an optional C-ordered ``(n, K)`` buffer of ``Z``'s dtype reused for the logits
    (one fresh ``n × K`` array per evaluation otherwise).
    """
    n, K = Z.shape[0], V.shape[1]
    if out is None or out.shape != (n, K) or out.dtype != Z.dtype:
        out = np.empty((n, K), dtype=Z.dtype)
    logits = np.matmul(Z, V.astype(Z.dtype), out=out)
    logits += c.astype(Z.dtype)
    flat = np.arange(n) * K + codes  # each row's own class in the flattened (n, K) buffer
    picked = logits.ravel()[flat].astype(np.float64)
    # exp without the usual row-max shift saves two passes over (n, K), and runs in place: it
    # is exact unless exp overflows or a whole row underflows, and then the shifted form is used.
    P = logits
    with np.errstate(over="ignore", under="ignore"):
        np.exp(logits, out=P)  # P becomes probabilities, then residuals, in place
        se = P.sum(axis=1)
    shift: Any = 0.0
    if not (np.isfinite(se).all() and se.min() > np.finfo(P.dtype).tiny * 1e6):
        np.matmul(Z, V.astype(Z.dtype), out=P)
        P += c.astype(Z.dtype)
        shift = P.max(axis=1)
        P -= shift[:, None]
        np.exp(P, out=P)
        se = P.sum(axis=1)
    ce = np.log(se.astype(np.float64)) + shift - picked
    P *= (1.0 / se)[:, None]
    P.ravel()[flat] -= 1.0
    if s is not None:
        P *= s[:, None].astype(P.dtype)
    f = float(ce.sum() if s is None else s @ ce)
    return f, (Z.T @ P).astype(np.float64), P.sum(axis=0, dtype=np.float64)


_BLOCK_ENTRIES = 1 << 23  # logits held at once by SoftmaxProblem (32 MiB in float32)
_EIGEN_ROWS_PER_CLASS = 16  # rows per class up to which solves run on eigen-rotated rows
_MEMO = 4  # evaluations remembered per problem (the C path warm-starts from earlier solutions)


def _gradient_test(tol: float, turn: np.ndarray, dK: int) -> Callable[[np.ndarray], bool]:
    """Whether the largest entry of the gradient is below ``tol`` once its weight block ``G``
    (d, K) is turned back by ``turn`` (d, d): ``turn @ G``; intercepts as they are."""

    def small(g: np.ndarray) -> bool:
        if float(np.max(np.abs(g[dK:]), initial=0.0)) > tol:
            return False
        G = g[:dK].reshape(turn.shape[1], -1)
        # a column's largest turned entry lies in [norm / √d, norm]: turn only between
        norm = float(np.sqrt(np.max(np.einsum("ij,ij->j", G, G))))
        if norm <= tol or norm > tol * np.sqrt(G.shape[0]):
            return norm <= tol
        return float(np.max(np.abs(turn @ G))) <= tol

    return small


class SoftmaxProblem:
    """Objective (divided by ``Σ s_i``, so ``tol`` does not depend on n) and exact gradient.

    The penalty is ``||V||² / (2C)``, or ``Vᵀ metric V / (2C)`` with a (d, d) ``metric`` (another
    geometry's penalty on these coordinates, see :func:`penalty_metric`).
    """

    metric: np.ndarray | None = None

    def __init__(
        self,
        Z: np.ndarray,
        codes: np.ndarray,
        n_classes: int,
        s: np.ndarray | None = None,
        basis: np.ndarray | None = None,
    ) -> None:
        self.Z, self.codes, self.K, self.s = Z, codes, n_classes, s
        self.basis = basis  # (d, d): the rows are Z @ basis, applied to the weights instead
        self.rows = np.arange(Z.shape[0])
        self.s_sum = float(Z.shape[0] if s is None else s.sum())

    def _on_rows(self, V: np.ndarray) -> np.ndarray:
        """Weights on the stored rows ``Z``: ``basis @ V`` (``(Z B) V = Z (B V)``)."""
        return V if self.basis is None else self.basis @ V

    def split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = self.Z.shape[1]
        return theta[: d * self.K].reshape(d, self.K), theta[d * self.K :]

    def with_metric(self, metric: np.ndarray | None) -> SoftmaxProblem:
        """The same rows under another penalty; the remembered data terms (which do not depend
        on the penalty) are shared with this problem."""
        self.__dict__.setdefault("_memo", [])
        other = copy.copy(self)
        other.metric = metric
        return other

    def _metric_times(self, V: np.ndarray) -> np.ndarray:
        if self.metric is None:
            return V
        return V * self.metric[:, None] if self.metric.ndim == 1 else self.metric @ V

    def logits(self, theta: np.ndarray) -> np.ndarray:
        V, c = self.split(theta)
        out = self.Z @ self._on_rows(V).astype(self.Z.dtype)
        out += c.astype(self.Z.dtype)
        return out

    @property
    def n_features(self) -> int:
        return int(self.Z.shape[1])

    def _data_terms(self, V: np.ndarray, c: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Cross-entropy sum and its gradients (no penalty): one pass over the rows, in blocks
        whose ``(rows, K)`` logits fit one reused buffer (bounded memory for many classes)."""
        n = self.Z.shape[0]
        step = max(1, min(n, _BLOCK_ENTRIES // max(self.K, 1)))
        buf = self.__dict__.get("_logits_buf")
        if buf is None:
            buf = self._logits_buf = np.empty((step, self.K), dtype=self.Z.dtype)
        W = self._on_rows(V)
        if step >= n:
            f, gV, gc = softmax_terms(self.Z, self.codes, self.s, W, c, out=buf)
        else:
            f, gV, gc = 0.0, np.zeros(V.shape), np.zeros(self.K)
            for a in range(0, n, step):
                b = min(a + step, n)
                s = None if self.s is None else self.s[a:b]
                fb, gVb, gcb = softmax_terms(
                    self.Z[a:b], self.codes[a:b], s, W, c, out=buf[: b - a])
                f, gV, gc = f + fb, gV + gVb, gc + gcb
        return f, (gV if self.basis is None else self.basis.T @ gV), gc

    def __call__(self, theta: np.ndarray, inv_C: float) -> tuple[float, np.ndarray]:
        """Objective and gradient at ``theta`` for the penalty ``inv_C = 1 / C``.

        The data part does not depend on ``C``: the last few are remembered, so a solve
        warm-started from another ``C``'s solution does not pass over the rows again there.
        """
        V, c = self.split(theta)
        memo: list[tuple[np.ndarray, tuple[float, np.ndarray, np.ndarray]]]
        memo = self.__dict__.setdefault("_memo", [])
        hit = [terms for seen, terms in memo if np.array_equal(seen, theta)]
        if hit:
            f, gV, gc = hit[0]
        else:
            f, gV, gc = self._data_terms(V, c)
            memo.insert(0, (theta.copy(), (f, gV, gc)))
            del memo[_MEMO:]
        MV = self._metric_times(V)
        f += 0.5 * inv_C * float(np.vdot(V, MV))
        grad = np.concatenate([(gV + inv_C * MV).ravel(), gc])
        return f / self.s_sum, grad / self.s_sum

    def solve(
        self, theta0: np.ndarray, C: float, max_iter: int, tol: float
    ) -> tuple[np.ndarray, int]:
        """L-BFGS from ``theta0`` until the largest gradient entry is below ``tol``.

        scipy's L-BFGS-B makes many small BLAS calls per iteration; with several BLAS threads
        they can cost more than the objective itself (ten times more on a busy machine), so
        they run on one thread while the objective's matrix products keep BLAS's thread count.
        Few rows go to :meth:`_solve_on_eigen_rows` and :func:`._lbfgs.lbfgs`.
        """
        if self._few_rows():
            return self._solve_on_eigen_rows(theta0, C, max_iter, tol)
        pools = _threadpools()
        n_threads = max(
            [info["num_threads"] for info in pools.select(user_api="blas").info()] or [1]
        )
        pair, dK = self._preconditioner(C), self.n_features * self.K
        R, R_inv = pair if pair is not None else (None, None)

        def weights(x: np.ndarray) -> np.ndarray:  # x: L-BFGS's variables -> theta
            if R is None or np.array_equal(x, x0):  # the start exactly (its terms are memoised)
                return theta0 if R is not None else x
            return np.concatenate([(R @ x[:dK].reshape(R.shape[0], -1)).ravel(), x[dK:]])

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            with pools.limit(limits=n_threads, user_api="blas"):
                f, g = self(weights(x), 1.0 / C)
            if R is not None:  # chain rule through V = R u (R symmetric)
                g = np.concatenate([(R @ g[:dK].reshape(R.shape[0], -1)).ravel(), g[dK:]])
            return f, g

        x0 = theta0
        if R is not None and R_inv is not None:
            x0 = np.concatenate([(R_inv @ theta0[:dK].reshape(R.shape[0], -1)).ravel(), theta0[dK:]])
        options = {"maxiter": max_iter, "gtol": tol, "ftol": 64 * np.finfo(float).eps, "maxcor": 10}
        with _one_blas_thread():
            res = minimize(fun, x0, jac=True, method="L-BFGS-B", options=options)
        return weights(res.x), int(res.nit)

    def _few_rows(self) -> bool:
        """Whether rows are few enough to map once into the penalty's eigenbasis.

        The weight route costs up to six ``(d, d) @ (d, K)`` products per evaluation (basis,
        metric, preconditioner and their transposes); the eigen-rows route costs one ``n × d²``
        transform per problem and none per evaluation. With ``n ≤ 16 K`` rows the transform
        is worth about three evaluations of the weight route, and a solve takes ten or more.
        """
        two_d = self.metric is None or self.metric.ndim == 2
        return (type(self) is SoftmaxProblem and two_d
                and (self.basis is not None or self.metric is not None)
                and self.Z.shape[0] <= _EIGEN_ROWS_PER_CLASS * self.K)

    def _eigen(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Eigenvalues ``m`` (clipped at 0) and eigenvectors ``Q`` of the metric (``Q=None``:
        the identity metric), computed once per metric."""
        if self.metric is None:
            return np.ones(self.Z.shape[1]), None
        eig = self.__dict__.get("_metric_eig")
        if eig is None or eig[0] is not self.metric:
            with _one_blas_thread():
                m, Q = linalg.eigh(self.metric, check_finite=False, driver="evd")
            eig = self._metric_eig = (self.metric, np.maximum(m, 0.0), Q)
        return eig[1], eig[2]

    def _solve_on_eigen_rows(
        self, theta0: np.ndarray, C: float, max_iter: int, tol: float
    ) -> tuple[np.ndarray, int]:
        """:meth:`solve` for few rows: the same L-BFGS in rotated coordinates.

        With ``M = Q diag(m) Qᵀ`` and the preconditioner ``R = Q diag(r) Qᵀ``, L-BFGS on
        ``u' = Qᵀ u`` (``V = Q diag(r) u'``) is L-BFGS on ``u`` turned by the orthogonal ``Q``
        (which it is invariant to without bounds), on the rows ``Y = Z B Q diag(r)`` with the
        diagonal penalty ``r² m``: no ``(d, d)`` product per evaluation. The stopping test
        alone is not invariant (largest entry): it is taken on ``Q g'``, the gradient in ``u``,
        one ``(d, d)`` product per iteration. Without bounds, and with an objective of about a
        millisecond, the solver is the numpy L-BFGS of :mod:`._lbfgs` (scipy's L-BFGS-B cost as
        much per iteration as the objective here).
        """
        m, Q = self._eigen()
        rows = self.__dict__.get("_eigen_rows")
        if rows is None or rows[0] is not self.metric:
            A = self.basis if Q is None else Q if self.basis is None else self.basis @ Q
            Y = self.Z if A is None else self.Z @ A.astype(self.Z.dtype)
            rows = self._eigen_rows = (self.metric, Y)
        Y = rows[1]
        r = np.ones_like(m)
        if self.metric is not None:
            a, lam = 1.0 / max(self.K, 2), 1.0 / (C * self.s_sum)
            r = np.sqrt((a + lam) / (a + lam * m))
        inner = SoftmaxProblem(Y * r.astype(Y.dtype) if self.metric is not None else Y,
                               self.codes, self.K, self.s)
        inner.metric = r * r * m if self.metric is not None else None
        dK = self.n_features * self.K
        V0 = theta0[:dK].reshape(-1, self.K)
        U0 = (V0 if Q is None else Q.T @ V0) / r[:, None]
        done = _gradient_test(tol, Q, dK) if Q is not None else (
            lambda g: float(np.max(np.abs(g), initial=0.0)) <= tol)
        theta_u, nit = lbfgs(lambda x: inner(x, 1.0 / C),
                             np.concatenate([U0.ravel(), theta0[dK:]]), max_iter, done)
        U = theta_u[:dK].reshape(-1, self.K) * r[:, None]
        V = U if Q is None else Q @ U
        return np.concatenate([V.ravel(), theta_u[dK:]]), nit

    def _preconditioner(self, C: float) -> tuple[np.ndarray, np.ndarray] | None:
        """``R`` and ``R⁻¹`` for the change of variables ``V = R u`` L-BFGS runs on (None: none
        needed).

        With a penalty ``metric`` M, the Hessian of the mean objective on whitened rows is about
        ``a I + M / (C Σs)`` (``a``: the softmax curvature, ``1/K`` at uniform probabilities), as
        badly conditioned as M wherever the penalty dominates. ``R = ((a + λ) / (a I + λ M))^½``
        with ``λ = 1 / (C Σs)`` makes it ``≈ (a + λ) I``; ``R = I`` when ``M = I``. It only
        multiplies the (d, K) weights: a pass over the rows costs the same.
        """
        if self.metric is None or self.metric.ndim == 1:  # diagonal: already preconditioned
            return None
        m, Q = self._eigen()
        assert Q is not None
        a, lam = 1.0 / max(self.K, 2), 1.0 / (C * self.s_sum)
        r = np.sqrt((a + lam) / (a + lam * m))
        return np.asarray((Q * r) @ Q.T), np.asarray((Q / r) @ Q.T)

    def scores(self, theta: np.ndarray) -> tuple[float, float]:
        """Accuracy and mean log-loss of ``theta`` on this problem's rows."""
        logits = self.logits(theta).astype(np.float64)
        logp = log_softmax(logits, axis=1)
        accuracy = float(np.mean(logits.argmax(axis=1) == self.codes))
        return accuracy, float(-np.mean(logp[self.rows, self.codes]))

    def best_scale(self, theta: np.ndarray, C: float) -> float:
        """The factor ``a`` minimising the objective at ``a * theta`` (a temperature)."""
        logits = self.logits(theta).astype(np.float64)
        V, _ = self.split(theta)
        vv = float(np.vdot(V, self._metric_times(V)))
        s = np.ones(self.Z.shape[0]) if self.s is None else self.s

        def f(log_a: float) -> float:
            a = np.exp(log_a)
            ce = -log_softmax(a * logits, axis=1)[self.rows, self.codes]
            return float(s @ ce + 0.5 * a * a * vv / C)

        return float(np.exp(minimize_scalar(f, bounds=(-12.0, 3.0), method="bounded").x))


Chunks = Callable[[], Iterable[tuple[np.ndarray, np.ndarray, np.ndarray | None]]]


class ChunkedSoftmaxProblem(SoftmaxProblem):
    """The same objective over rows that are re-read chunk by chunk on every evaluation.

    ``chunks()`` yields ``(X, codes, s)`` triples (raw embeddings, class codes, per-row weights or
    ``None``), e.g. from memory-mapped shards; each is preprocessed with ``pre`` into ``dtype``
    on the fly, so memory stays at one chunk's ``(rows, d)`` and ``(rows, K)`` arrays whatever
    the number of rows. Sums run in float64 across chunks, so the objective equals the
    in-memory one up to the order of floating-point additions.
    """

    def __init__(
        self,
        chunks: Chunks,
        pre: Preprocessor,
        n_features: int,
        codes: np.ndarray,
        n_classes: int,
        s_sum: float,
        dtype: type,
    ) -> None:
        self.chunks, self.pre, self.dtype = chunks, pre, dtype
        self.codes, self.K, self.s, self.s_sum = codes, n_classes, None, float(s_sum)
        self._d = int(n_features)
        self.rows = np.arange(codes.size)

    @property
    def n_features(self) -> int:
        return self._d

    def split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return theta[: self._d * self.K].reshape(self._d, self.K), theta[self._d * self.K :]

    def _z_chunks(self) -> Iterable[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        for X, codes, s in self.chunks():
            yield self.pre.transform(X, self.dtype), codes, s

    def _data_terms(self, V: np.ndarray, c: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        f, gV, gc = 0.0, np.zeros(V.shape), np.zeros(self.K)
        for Z, codes, s in self._z_chunks():
            fc, gVc, gcc = softmax_terms(Z, codes, s, V, c)
            f, gV, gc = f + fc, gV + gVc, gc + gcc
        return f, gV, gc

    def logits(self, theta: np.ndarray) -> np.ndarray:  # pragma: no cover - never materialised
        raise NotImplementedError("ChunkedSoftmaxProblem never holds all logits at once.")

    def scores(self, theta: np.ndarray) -> tuple[float, float]:
        V, c = self.split(theta)
        hits, loss, n = 0, 0.0, 0
        for Z, codes, _ in self._z_chunks():
            logits = (Z @ V.astype(Z.dtype) + c.astype(Z.dtype)).astype(np.float64)
            hits += int(np.sum(logits.argmax(axis=1) == codes))
            loss -= float(log_softmax(logits, axis=1)[np.arange(codes.size), codes].sum())
            n += codes.size
        return hits / max(n, 1), loss / max(n, 1)

    def best_scale(self, theta: np.ndarray, C: float) -> float:
        """As :meth:`SoftmaxProblem.best_scale`; each evaluation is one pass over the chunks."""
        V, c = self.split(theta)
        vv = float(np.vdot(V, V))

        def f(log_a: float) -> float:
            a, total = np.exp(log_a), 0.0
            for Z, codes, s in self._z_chunks():
                logits = a * (Z @ V.astype(Z.dtype) + c.astype(Z.dtype)).astype(np.float64)
                ce = -log_softmax(logits, axis=1)[np.arange(codes.size), codes]
                total += float(ce.sum() if s is None else s @ ce)
            return total + 0.5 * a * a * vv / C

        return float(np.exp(minimize_scalar(f, bounds=(-12.0, 3.0), method="bounded").x))
