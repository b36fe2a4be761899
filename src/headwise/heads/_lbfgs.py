"""Unconstrained L-BFGS for smooth strictly convex objectives, in numpy.

The logistic probe's few-row solves (:meth:`SoftmaxProblem.solve` on eigen-rows) have ~30k
variables and an objective that costs about a millisecond. There scipy's L-BFGS-B, built for
bound constraints, spent as long per iteration in its Fortran bookkeeping and Python wrapper
as in the objective (a quarter of a few-shot ``auto`` fit). Without bounds L-BFGS is the
two-loop recursion (Nocedal & Wright, Algorithm 7.4): a few dot products over ``memory``
pairs. On a strictly convex objective every step gives ``sᵀy > 0``, so a backtracking line
search on the sufficient-decrease (Armijo) condition keeps the update positive definite
without the Wolfe curvature test.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["lbfgs"]

_ARMIJO = 1e-4  # sufficient decrease: f(x + t d) <= f(x) + 1e-4 t gᵀd
_MAX_BACKTRACK = 40
_F_TOL = 64 * np.finfo(float).eps  # relative decrease below which the solve has stalled (scipy's)


def _direction(g: np.ndarray, S: list[np.ndarray], Y: list[np.ndarray]) -> np.ndarray:
    """``-H g`` by the two-loop recursion over the pairs ``(s, y)`` (oldest first), with the
    initial ``H₀ = (sᵀy / yᵀy) I`` of the newest pair."""
    q = g.copy()
    rho = [1.0 / float(s @ y) for s, y in zip(S, Y, strict=True)]
    alpha = []
    for s, y, r in zip(reversed(S), reversed(Y), reversed(rho), strict=True):
        a = r * float(s @ q)
        q -= a * y
        alpha.append(a)
    if S:
        q *= float(S[-1] @ Y[-1]) / float(Y[-1] @ Y[-1])
    for s, y, r, a in zip(S, Y, rho, reversed(alpha), strict=True):
        q += (a - r * float(y @ q)) * s
    return -q


def lbfgs(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    max_iter: int,
    done: Callable[[np.ndarray], bool],
    memory: int = 5,
) -> tuple[np.ndarray, int]:
    """Minimise ``fun`` (value and gradient) from ``x0``; the point and the iterations taken.

    Stops when ``done(gradient)``, after ``max_iter`` iterations, when an iteration lowers the
    value by less than ``64 eps`` relative to it, or when no step along the direction lowers it.
    ``memory``: pairs kept. Each costs four passes over an ``n``-long vector per iteration, and
    on the few-row logistic problems 5 (within Liu & Nocedal's 3 to 7) fitted 7% faster than
    scipy's 10 at equal accuracy.

    >>> x, n = lbfgs(lambda x: (float(x @ x), 2 * x), np.ones(3), 50, lambda g: abs(g).max() < 1e-9)
    >>> bool(np.allclose(x, 0)), n <= 3
    (True, True)
    """
    x = np.array(x0, dtype=np.float64)
    f, g = fun(x)
    if done(g):
        return x, 0
    S: list[np.ndarray] = []
    Y: list[np.ndarray] = []
    for it in range(1, max_iter + 1):
        d = _direction(g, S, Y)
        slope = float(g @ d)
        if not slope < 0:  # lost descent to rounding: restart from the gradient
            S.clear()
            Y.clear()
            d, slope = -g, -float(g @ g)
        # the first step is unit length (the gradient's scale is unknown); later ones unit
        t = 1.0 if S else min(1.0, 1.0 / max(float(np.sqrt(g @ g)), 1e-300))
        for _ in range(_MAX_BACKTRACK):
            f_new, g_new = fun(x + t * d)
            if f_new <= f + _ARMIJO * t * slope:
                break
            # minimiser of the quadratic through f, the slope and f_new, kept in [0.1 t, 0.5 t]
            t_q = -slope * t * t / (2.0 * (f_new - f - slope * t))
            t = min(max(t_q, 0.1 * t), 0.5 * t) if np.isfinite(t_q) else 0.1 * t
        else:
            return x, it - 1
        s, y = t * d, g_new - g
        x = x + s
        if float(s @ y) > 0:
            S.append(s)
            Y.append(y)
            if len(S) > memory:
                del S[0], Y[0]
        stalled = f - f_new <= _F_TOL * max(abs(f), abs(f_new), 1.0)
        f, g = f_new, g_new
        if done(g) or stalled:
            return x, it
    return x, max_iter
