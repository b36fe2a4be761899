"""Pure math of combining heads: temperature scaling and stacking of predictive distributions.

Every head's out-of-sample logits are first put on a common footing by one temperature ``T``
(softmax(T z)) that minimises their log-loss: NCM's cosines in [-1, 1] and ridge's ±1 regression
values are not probabilities until scaled. The heads are then combined by *stacking* (Yao,
Vehtari, Simpson & Gelman 2018): the mixture weights on the simplex that maximise the
out-of-sample log-likelihood ``Σ_i log Σ_h w_h p_h(y_i | x_i)``. The problem is concave; the EM
iteration ``w_h ← w_h · mean_i p_h(y_i)/p_mix(y_i)`` climbs it monotonically. Every single head
is a vertex of the simplex, so the stack's out-of-sample log-likelihood is never below the best
head's; with strong evidence the weights collapse onto one head, with thin evidence they spread.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import log_softmax, logsumexp

__all__ = [
    "fit_temperature",
    "mean_log_loss",
    "mix_log_proba",
    "stacking_weights",
    "temperature_row_losses",
]

_LOG_T = (-9.0, 9.0)  # temperatures in [1.2e-4, 8.1e3]
_BLOCK = 1 << 20  # logits entries per block of rows (8 MB in float64)


def mean_log_loss(log_proba: np.ndarray, codes: np.ndarray) -> float:
    """``-mean_i log p(y_i)`` of log-probabilities (n, K)."""
    return float(-np.mean(log_proba[np.arange(codes.size), codes]))


def _finite_logits(logits: np.ndarray) -> np.ndarray:
    """Rows of ``logits`` in float64, shifted to a zero maximum, ``-inf`` clipped to ``-1e6``."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.where(np.isneginf(z), -1e300, z)
    z = z - z.max(axis=1, keepdims=True)
    return np.maximum(z, -1e6)  # -inf columns stay negligible at every T in range


def _row_blocks(n_rows: int, n_cols: int) -> list[slice]:
    """Row blocks of at most ``_BLOCK`` entries (at least one row each)."""
    step = max(1, _BLOCK // max(n_cols, 1))
    return [slice(i, i + step) for i in range(0, n_rows, step)]


def fit_temperature(logits: np.ndarray, codes: np.ndarray, start: float = 1.0) -> float:
    """The ``T > 0`` minimising the mean log-loss of ``softmax(T · logits)`` (convex in ``T``).

    Safeguarded Newton on ``T`` inside ``[e^-9, e^9]``: the derivative of the mean log-loss is
    ``mean_i(E_p[z_i] - z_iy)`` and the second derivative ``mean_i Var_p(z_i) >= 0``; a step
    that leaves the bracket the sign of the derivative keeps is replaced by bisection in
    ``log T``. Stops when ``log T`` moves by less than ``1e-3``. ``start``: the first ``T``
    (a neighbouring setting's temperature saves most of the iterations). The sums run over
    blocks of rows, so the memory is a few blocks whatever ``logits``' size and dtype.

    >>> z = np.array([[1.0, -1.0], [-1.0, 1.0], [1.0, -1.0]])
    >>> fit_temperature(z, np.array([0, 1, 1])) < 1.0  # one of three is wrong: soften
    True
    """
    n = codes.size
    blocks = _row_blocks(n, logits.shape[1])
    held = [_finite_logits(logits[b]) for b in blocks] if len(blocks) == 1 else None

    def derivatives(T: float) -> tuple[float, float]:
        grad = curv = 0.0
        for k, b in enumerate(blocks):
            z = held[k] if held is not None else _finite_logits(logits[b])
            # rows of z have a zero maximum, so exp(T z) neither overflows nor sums below 1
            p = np.exp(T * z)
            p /= p.sum(axis=1, keepdims=True)
            pz = p * z
            mean_z = pz.sum(axis=1)
            grad += float(np.sum(mean_z - z[np.arange(mean_z.size), codes[b]]))
            curv += float(np.vdot(pz, z) - mean_z @ mean_z)
        return grad / n, curv / n

    lo, hi = _LOG_T
    log_t = float(np.clip(np.log(start), lo, hi)) if start > 0 else 0.0
    for _ in range(100):
        T = np.exp(log_t)
        grad, curv = derivatives(T)
        if grad > 0:
            hi = log_t
        else:
            lo = log_t
        if grad == 0.0:
            break
        step_t = T - grad / curv if curv > 0 else -1.0
        new = float(np.log(step_t)) if step_t > 0 else (lo + hi) / 2
        if not lo < new < hi:
            new = (lo + hi) / 2
        if abs(new - log_t) < 1e-3 or hi - lo < 1e-3:
            log_t = new
            break
        log_t = new
    return float(np.exp(np.clip(log_t, *_LOG_T)))


def temperature_row_losses(logits: np.ndarray, codes: np.ndarray, T: float) -> np.ndarray:
    """Per-row ``-log softmax(T · logits)[y]`` in float64, computed over blocks of rows."""
    out = np.empty(codes.size)
    for b in _row_blocks(codes.size, logits.shape[1]):
        lp = log_softmax(T * np.asarray(logits[b], dtype=np.float64), axis=1)
        out[b] = -lp[np.arange(lp.shape[0]), codes[b]]
    return out


def stacking_weights(
    log_probas: Sequence[np.ndarray], codes: np.ndarray, n_iter: int = 1000, tol: float = 1e-10
) -> np.ndarray:
    """Simplex weights maximising ``Σ_i log Σ_h w_h p_h(y_i)`` (EM, from uniform weights).

    >>> lp = [np.log([[0.9, 0.1], [0.6, 0.4]]), np.log([[0.5, 0.5], [0.5, 0.5]])]
    >>> stacking_weights(lp, np.array([0, 0])).round(3).tolist()  # head 0 is better everywhere
    [1.0, 0.0]
    """
    rows = np.arange(codes.size)
    L = np.stack([lp[rows, codes] for lp in log_probas], axis=1)  # (n, M) log p_h(y_i)
    L = L - L.max(axis=1, keepdims=True)
    P = np.exp(L)
    w = np.full(P.shape[1], 1.0 / P.shape[1])
    prev = -np.inf
    for _ in range(n_iter):
        mix = P @ w
        ll = float(np.mean(np.log(mix)))
        w = w * np.mean(P / mix[:, None], axis=0)
        w /= w.sum()
        if ll - prev < tol:
            break
        prev = ll
    return w


def mix_log_proba(log_probas: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """``log Σ_h w_h p_h`` for log-probabilities (n, K) of each head; zero weights drop out."""
    keep = [h for h, w in enumerate(weights) if w > 0]
    stacked = np.stack([log_probas[h] + np.log(weights[h]) for h in keep])
    return np.asarray(logsumexp(stacked, axis=0))
