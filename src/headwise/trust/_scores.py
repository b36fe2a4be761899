"""Non-conformity scores (LAC, APS, RAPS) and the split-conformal quantile, as pure functions."""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import numpy as np

from ..exceptions import InputError

__all__ = ["METHODS", "check_alpha", "conformal_quantile", "nonconformity_scores"]

METHODS = ("lac", "aps", "raps")


def check_alpha(alpha: Any, owner: str = "predict_set") -> float:
    """``alpha`` as a float in the open interval (0, 1), or a clear :class:`InputError`."""
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not 0.0 < float(alpha) < 1.0:
        raise InputError(
            f"The 'alpha' parameter of {owner} must be a float in the open interval (0, 1) "
            f"(the allowed miscoverage, e.g. 0.1 for 90% sets). Got {alpha!r} instead."
        )
    return float(alpha)


def conformal_quantile(scores: Any, alpha: float) -> float:
    """The ``⌈(n+1)(1-α)⌉``-th smallest of ``n`` calibration scores (``+inf`` if that exceeds n).

    This is the empirical quantile at level ``⌈(n+1)(1-α)⌉ / n``; a test score is at most it
    with probability at least ``1 - α`` when calibration and test rows are exchangeable.

    >>> conformal_quantile([0.1, 0.5, 0.2, 0.9], 0.2)  # ⌈5·0.8⌉ = 4 → the 4th smallest
    0.9
    >>> conformal_quantile([0.1, 0.5, 0.2, 0.9], 0.1)  # ⌈5·0.9⌉ = 5 > 4 → every class
    inf
    """
    alpha = check_alpha(alpha, "conformal_quantile")
    s = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    n = s.size
    k = math.ceil((n + 1) * (1.0 - alpha) - 1e-9)  # guard against 9.000000000000002
    if n == 0 or k > n:
        return float("inf")
    return float(s[max(k, 1) - 1])


def _greater_mass_and_rank(proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per (row, class): the mass of classes strictly more probable, and the 1-based rank.

    Tied classes share both values, so the scores do not depend on column order.
    """
    n, c = proba.shape
    order = np.argsort(-proba, axis=1, kind="stable")
    ps = np.take_along_axis(proba, order, axis=1)
    before = np.cumsum(ps, axis=1) - ps  # mass of the classes sorted before each position
    pos = np.broadcast_to(np.arange(c), (n, c))
    new_run = np.ones((n, c), dtype=bool)
    new_run[:, 1:] = ps[:, 1:] != ps[:, :-1]
    start = np.maximum.accumulate(np.where(new_run, pos, 0), axis=1)  # first index of tie run
    greater_sorted = np.take_along_axis(before, start, axis=1)
    greater = np.empty_like(proba)
    rank = np.empty((n, c), dtype=np.float64)
    np.put_along_axis(greater, order, greater_sorted, axis=1)
    np.put_along_axis(rank, order, (start + 1).astype(np.float64), axis=1)
    return greater, rank


def nonconformity_scores(
    proba: Any,
    method: str = "lac",
    *,
    u: Any | None = None,
    lam: float = 0.01,
    k_reg: int = 1,
) -> np.ndarray:
    """Score of every (row, class) pair, shape ``(n, n_classes)``; larger = less conforming.

    ``"lac"``: ``1 - p_k``. ``"aps"``: the mass of the classes more probable than ``k`` plus
    ``p_k`` (times ``u`` when ``u`` is given: randomised APS, one uniform per row).
    ``"raps"``: APS plus ``lam · max(0, rank_k - k_reg)``. A prediction set is every class whose
    score is at most the conformal quantile, so the same function scores calibration and test
    rows.

    >>> nonconformity_scores([[0.5, 0.3, 0.2]], "aps").round(2).tolist()
    [[0.5, 0.8, 1.0]]
    """
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2:
        raise InputError(f"proba must have shape (n, n_classes); got {p.shape}.")
    if method == "lac":
        return 1.0 - p
    if method not in METHODS:
        raise InputError(f"Unknown conformal method {method!r}; choose one of {', '.join(METHODS)}.")
    greater, rank = _greater_mass_and_rank(p)
    own = p if u is None else np.asarray(u, dtype=np.float64).reshape(-1, 1) * p
    s = greater + own
    if method == "raps":
        s = s + float(lam) * np.maximum(rank - int(k_reg), 0.0)
    return s
