"""Conformal label sets for multi-label heads: FNR risk control and per-label LAC.

Both calibrate on held-out rows exchangeable with the test rows and return a threshold on the
head's per-label logits; a row's set is the labels whose logit reaches it.

- ``"crc"``, conformal risk control (Angelopoulos et al., 2022) for the false-negative rate: the
  loss of a row is the fraction of its true labels missing from its set, bounded by 1 and
  non-increasing as the threshold falls. The threshold is the highest ``t`` with
  ``n/(n+1) · R̂(t) + 1/(n+1) ≤ α``, which gives ``E[FNR] ≤ α`` on a new row. Rows without a
  true label have zero loss whatever the set, so they are left out of calibration and the
  guarantee is for rows with at least one label.
- ``"lac"``, per-label least-ambiguous sets: for each label ``l`` the split-conformal quantile of
  ``-logit_l`` over the calibration rows where ``l`` is true, so a true label ``l`` is in the set
  with probability at least ``1 - α`` (label-conditional coverage).
"""

from __future__ import annotations

import math
from typing import Any, Self

import numpy as np

from ..exceptions import InputError
from ._scores import check_alpha, conformal_quantile

__all__ = ["MULTILABEL_METHODS", "MultiLabelConformal", "crc_fnr_threshold", "label_lac_thresholds"]

MULTILABEL_METHODS = ("crc", "lac")


def crc_fnr_threshold(scores: Any, Y: Any, alpha: float) -> float:
    """Highest logit threshold whose sets control the false-negative rate at ``alpha``.

    ``-inf`` (every label) when ``α`` is below what ``n`` calibration rows can certify.

    >>> s = np.array([[2.0, -1.0], [0.5, 1.5], [1.0, -2.0]])
    >>> crc_fnr_threshold(s, np.array([[1, 0], [1, 1], [1, 0]]), 0.5)
    1.0
    """
    alpha = check_alpha(alpha, "crc_fnr_threshold")
    S = np.asarray(scores, dtype=np.float64)
    Yk = np.nan_to_num(np.asarray(Y, dtype=np.float64))
    pos = Yk.sum(axis=1)
    rows = pos > 0
    n = int(rows.sum())
    target = ((n + 1) * alpha - 1.0) / n if n else -1.0
    if target < 0:
        return -math.inf
    r, c = np.nonzero(Yk[rows] > 0)
    v = S[rows][r, c]
    w = 1.0 / (pos[rows][r] * n)  # each true label's share of the mean loss
    order = np.argsort(v, kind="stable")
    v, cum = v[order], np.cumsum(w[order])
    # R̂(t) = Σ w over true-label scores below t; the sets at threshold v[j] miss v[:j].
    # Largest j with R̂(v[j]) = cum[j-1] ≤ target; ties in v are handled by the first occurrence.
    first = np.searchsorted(v, v, side="left")
    below = np.where(first > 0, cum[np.maximum(first - 1, 0)], 0.0)
    ok = np.flatnonzero(below <= target + 1e-12)
    return float(v[ok[-1]])


def label_lac_thresholds(scores: Any, Y: Any, alpha: float) -> np.ndarray:
    """Per-label thresholds: label ``l`` is in the set when its logit is at least ``-q_l``."""
    alpha = check_alpha(alpha, "label_lac_thresholds")
    S = np.asarray(scores, dtype=np.float64)
    Yk = np.nan_to_num(np.asarray(Y, dtype=np.float64))
    out = np.empty(S.shape[1])
    for j in range(S.shape[1]):
        q = conformal_quantile(-S[Yk[:, j] > 0, j], alpha)
        out[j] = -q
    return out


class MultiLabelConformal:
    """Split-conformal label sets around a fitted multi-label head.

    ``calibrate(X, y)`` keeps the logits of held-out labelled rows; ``predict_set(X, alpha)``
    returns a 0/1 ``(n, n_labels)`` matrix. ``method="crc"`` bounds the expected fraction of a
    row's true labels that its set misses by ``alpha``; ``method="lac"`` keeps each true label
    with probability ``1 - alpha`` per label (see the module docstring).
    """

    def __init__(self, head: Any, method: str = "crc") -> None:
        self.head = head
        self.method = method

    def calibrate(self, X: Any, y: Any) -> Self:
        if self.method not in MULTILABEL_METHODS:
            raise InputError(
                f"Unknown multi-label conformal method {self.method!r}; use one of "
                f"{', '.join(MULTILABEL_METHODS)}."
            )
        self.cal_logits_ = self.head.logits(X)
        self.cal_targets_ = self.head._known_targets(y, self.cal_logits_.shape[0])
        return self

    @classmethod
    def from_calibration(cls, head: Any, logits: np.ndarray, targets: np.ndarray, method: str = "crc") -> MultiLabelConformal:
        """Rebuild from stored calibration logits and targets (e.g. saved with the head)."""
        out = cls(head, method)
        out.cal_logits_, out.cal_targets_ = np.asarray(logits), np.asarray(targets)
        return out

    def thresholds(self, alpha: float) -> np.ndarray:
        """Per-label logit thresholds at level ``alpha`` (one value repeated for ``"crc"``)."""
        if not hasattr(self, "cal_logits_"):
            raise InputError("Calibrate first: MultiLabelConformal.calibrate(X_cal, y_cal).")
        L = self.cal_logits_.shape[1]
        if self.method == "crc":
            return np.full(L, crc_fnr_threshold(self.cal_logits_, self.cal_targets_, alpha))
        return label_lac_thresholds(self.cal_logits_, self.cal_targets_, alpha)

    def predict_set(self, X: Any, alpha: float) -> np.ndarray:
        return (self.head.logits(X) >= self.thresholds(alpha)).astype(np.int64)
