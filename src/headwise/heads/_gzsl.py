"""Seen/unseen gating for generalized zero-shot learning: COSMO and calibrated stacking.

Two experts score a row: a head fitted on the seen classes (``P_s``, over ``S`` classes) and a
zero-shot head over the unseen class names (``P_u``, over ``U`` classes). COSMO (Atzmon & Chechik,
2019, "Adaptive Confidence Smoothing for Generalized Zero-Shot Learning") trains a small logistic
gate on the top-k probabilities of both experts to estimate ``g = p(seen | x)``, and smooths each
expert towards uniform as the gate doubts it::

    p(y) = g · (g · P_s(y) + (1 − g) / S)            for seen y
    p(y) = (1 − g) · ((1 − g) · P_u(y) + g / U)      for unseen y

Calibrated stacking (Chao et al., 2016) is the baseline: ``argmax [log P_s − γ, log P_u]``.
These are pure functions plus one small estimator; the protocol lives in ``protocols/gzsl.py``.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from ..exceptions import InputError

__all__ = ["SeenUnseenGate", "calibrated_stacking", "cosmo_combine", "gate_features"]


def gate_features(P_seen: np.ndarray, P_unseen: np.ndarray, k: int = 3) -> np.ndarray:
    """Top-``k`` sorted probabilities of each expert plus their entropies, shape (n, 2k + 2)."""

    def top(P: np.ndarray) -> np.ndarray:
        s = -np.sort(-P, axis=1)[:, :k]
        if s.shape[1] < k:
            s = np.pad(s, ((0, 0), (0, k - s.shape[1])))
        return s

    def entropy(P: np.ndarray) -> np.ndarray:
        return -np.sum(P * np.log(np.maximum(P, 1e-300)), axis=1, keepdims=True)

    return np.hstack([top(P_seen), top(P_unseen), entropy(P_seen), entropy(P_unseen)])


def cosmo_combine(P_seen: np.ndarray, P_unseen: np.ndarray, g: np.ndarray) -> np.ndarray:
    """COSMO's smoothed mixture over seen then unseen classes (rows sum to one).

    >>> cosmo_combine(np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]]), np.array([1.0])).tolist()
    [[1.0, 0.0, 0.0, 0.0]]
    """
    g = np.asarray(g, dtype=np.float64)[:, None]
    S, U = P_seen.shape[1], P_unseen.shape[1]
    seen = g * (g * P_seen + (1 - g) / S)
    unseen = (1 - g) * ((1 - g) * P_unseen + g / U)
    return np.hstack([seen, unseen])


def calibrated_stacking(P_seen: np.ndarray, P_unseen: np.ndarray, gamma: float) -> np.ndarray:
    """Scores ``[log P_s − γ, log P_u]``; ``γ`` trades seen accuracy for unseen accuracy."""
    with np.errstate(divide="ignore"):
        return np.hstack([np.log(P_seen) - gamma, np.log(P_unseen)])


class SeenUnseenGate:
    """Logistic gate ``p(seen | x)`` on :func:`gate_features` of the two experts.

    Parameters
    ----------
    k : int, default=3
    C : float, default=1.0
    """

    def __init__(self, k: int = 3, C: float = 1.0) -> None:
        self.k = k
        self.C = C

    def _features(self, P_seen: Any, P_unseen: Any) -> np.ndarray:
        Ps = np.asarray(P_seen, dtype=np.float64)
        Pu = np.asarray(P_unseen, dtype=np.float64)
        if Ps.ndim != 2 or Pu.ndim != 2 or Ps.shape[0] != Pu.shape[0]:
            raise InputError(
                "SeenUnseenGate takes two probability matrices with one row per example; got "
                f"shapes {Ps.shape} (seen expert) and {Pu.shape} (unseen expert)."
            )
        if not (np.all(np.isfinite(Ps)) and np.all(np.isfinite(Pu))):
            raise InputError("SeenUnseenGate: the experts' probabilities contain NaN or infinity.")
        return gate_features(Ps, Pu, self.k)

    def fit(self, P_seen: Any, P_unseen: Any, is_seen: Any) -> Self:
        """Fit the gate on rows whose truth is known: ``is_seen`` is 1 for a seen-class row."""
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise InputError(f"The 'k' parameter of SeenUnseenGate must be an int >= 1. Got {self.k!r}.")
        F = self._features(P_seen, P_unseen)
        t = np.asarray(is_seen).astype(int).ravel()
        if t.size != F.shape[0] or not np.all(np.isin(t, (0, 1))) or np.unique(t).size < 2:
            raise InputError(
                f"is_seen must hold 0/1 for each of the {F.shape[0]} rows, with both values present "
                f"(the gate learns seen vs unseen); got {t.size} values {np.unique(t).tolist()[:5]}."
            )
        self.model_ = LogisticRegression(C=self.C, class_weight="balanced", max_iter=1000)
        self.model_.fit(F, t)
        return self

    def logit(self, P_seen: Any, P_unseen: Any) -> np.ndarray:
        """``log p(seen) − log p(unseen)`` per row."""
        if not hasattr(self, "model_"):
            raise NotFittedError("This SeenUnseenGate is not fitted yet; call fit first.")
        return self.model_.decision_function(self._features(P_seen, P_unseen))

    def predict_proba(self, P_seen: np.ndarray, P_unseen: np.ndarray, bias: float = 0.0) -> Any:
        return 1.0 / (1.0 + np.exp(-(self.logit(P_seen, P_unseen) + bias)))
