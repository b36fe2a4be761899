"""Classification and calibration metrics on probability matrices.

All functions take integer class codes ``y`` (``0 .. n_classes-1``, the column index into
``proba``) and a row-stochastic ``proba`` of shape ``(n, n_classes)``. Calibration errors use
``n_bins`` **equal-width** bins on ``[0, 1]`` (bin ``b`` holds confidences in
``((b-1)/n_bins, b/n_bins]``, the first bin also holds 0), weighted by bin frequency.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..exceptions import InputError

__all__ = [
    "CalibrationMetrics",
    "brier_score",
    "calibration_metrics",
    "classwise_ece",
    "expected_calibration_error",
    "macro_f1",
    "negative_log_likelihood",
    "reliability_bins",
]

DEFAULT_BINS = 15


def _check(y: Any, proba: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(proba, dtype=np.float64)
    codes = np.asarray(y)
    if p.ndim != 2 or codes.ndim != 1 or codes.shape[0] != p.shape[0]:
        raise InputError(
            f"Expected y of shape (n,) and proba of shape (n, n_classes); got {codes.shape} "
            f"and {p.shape}."
        )
    if codes.size == 0:
        raise InputError("Metrics need at least one row; got none.")
    if codes.dtype.kind not in "iu" or codes.min() < 0 or codes.max() >= p.shape[1]:
        raise InputError(
            f"y must hold integer class codes in [0, {p.shape[1]}), the columns of proba. "
            "Map labels with np.searchsorted(head.classes_, labels)."
        )
    return codes.astype(np.intp), p


def _bin_index(conf: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-width bin of each confidence: ``ceil(c * n_bins) - 1``, clipped to ``[0, n_bins)``."""
    return np.clip(np.ceil(conf * n_bins).astype(np.intp) - 1, 0, n_bins - 1)


def reliability_bins(
    confidence: Any, correct: Any, n_bins: int = DEFAULT_BINS
) -> dict[str, np.ndarray]:
    """Per-bin count, mean confidence and accuracy (NaN for empty bins).

    >>> r = reliability_bins([0.05, 0.95, 0.9], [0, 1, 0], n_bins=2)
    >>> r["count"].tolist(), r["accuracy"].tolist()
    ([1, 2], [0.0, 0.5])
    """
    conf = np.asarray(confidence, dtype=np.float64).ravel()
    hit = np.asarray(correct, dtype=np.float64).ravel()
    b = _bin_index(conf, n_bins)
    count = np.bincount(b, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(b, weights=conf, minlength=n_bins) / count
        acc = np.bincount(b, weights=hit, minlength=n_bins) / count
    return {
        "edges": np.linspace(0.0, 1.0, n_bins + 1),
        "count": count,
        "confidence": mean_conf,
        "accuracy": acc,
    }


def _ece_from(conf: np.ndarray, hit: np.ndarray, n_bins: int) -> float:
    r = reliability_bins(conf, hit, n_bins)
    nz = r["count"] > 0
    gaps = np.abs(r["accuracy"][nz] - r["confidence"][nz])
    return float(np.sum(r["count"][nz] * gaps) / conf.size)


def expected_calibration_error(y: Any, proba: Any, n_bins: int = DEFAULT_BINS) -> float:
    """Top-label ECE: ``Σ_b (n_b / n) |acc_b - conf_b|`` over equal-width confidence bins.

    >>> expected_calibration_error([0, 1], [[0.9, 0.1], [0.8, 0.2]], n_bins=10)
    0.45
    """
    codes, p = _check(y, proba)
    top = p.argmax(axis=1)
    return round(_ece_from(p.max(axis=1), top == codes, n_bins), 12)


def classwise_ece(y: Any, proba: Any, n_bins: int = DEFAULT_BINS) -> float:
    """Classwise ECE: the mean over classes of the ECE of ``p_k`` against ``1[y == k]``."""
    codes, p = _check(y, proba)
    eces = [_ece_from(p[:, k], codes == k, n_bins) for k in range(p.shape[1])]
    return float(np.mean(eces))


def negative_log_likelihood(y: Any, proba: Any, eps: float = 1e-12) -> float:
    """Mean ``-log p_y`` (probabilities floored at ``eps``)."""
    codes, p = _check(y, proba)
    return float(-np.mean(np.log(np.maximum(p[np.arange(codes.size), codes], eps))))


def brier_score(y: Any, proba: Any) -> float:
    """Multiclass Brier score: mean over rows of ``Σ_k (p_k - 1[y == k])²`` (range [0, 2])."""
    codes, p = _check(y, proba)
    onehot = np.zeros_like(p)
    onehot[np.arange(codes.size), codes] = 1.0
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


def macro_f1(y: Any, pred: Any, n_classes: int) -> float:
    """Macro-F1 over the classes present in ``y`` or ``pred`` (as sklearn's default)."""
    y = np.asarray(y, dtype=np.intp)
    pred = np.asarray(pred, dtype=np.intp)
    tp = np.bincount(y[y == pred], minlength=n_classes).astype(np.float64)
    n_true = np.bincount(y, minlength=n_classes)
    n_pred = np.bincount(pred, minlength=n_classes)
    present = (n_true + n_pred) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(n_true + n_pred > 0, 2 * tp / (n_true + n_pred), 0.0)
    return float(f1[present].mean())


@dataclass(frozen=True)
class CalibrationMetrics:
    accuracy: float  # top-1 accuracy
    macro_f1: float  # unweighted mean of per-class F1
    nll: float  # mean negative log-likelihood of the true class
    brier: float  # multiclass Brier score, range [0, 2]
    ece: float  # top-label ECE, equal-width bins
    classwise_ece: float  # mean over classes of the one-vs-rest ECE
    n_bins: int  # number of equal-width bins used by both ECEs
    binning: str  # human description of the binning

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def calibration_metrics(y: Any, proba: Any, n_bins: int = DEFAULT_BINS) -> CalibrationMetrics:
    """Every metric above at once.

    >>> m = calibration_metrics([0, 1, 1], [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    >>> round(m.accuracy, 3), m.binning
    (0.667, '15 equal-width bins on [0, 1]')
    """
    if not (isinstance(n_bins, int) and n_bins >= 1):
        raise InputError(f"n_bins must be a positive integer. Got {n_bins!r} instead.")
    codes, p = _check(y, proba)
    pred = p.argmax(axis=1)
    return CalibrationMetrics(
        accuracy=float(np.mean(pred == codes)),
        macro_f1=macro_f1(codes, pred, p.shape[1]),
        nll=negative_log_likelihood(codes, p),
        brier=brier_score(codes, p),
        ece=expected_calibration_error(codes, p, n_bins),
        classwise_ece=classwise_ece(codes, p, n_bins),
        n_bins=n_bins,
        binning=f"{n_bins} equal-width bins on [0, 1]",
    )
