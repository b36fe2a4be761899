"""Multi-label metrics over 0/1 indicator matrices, with unknown target entries (NaN) ignored."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score

from ..exceptions import InputError

__all__ = ["MultiLabelMetrics", "multilabel_metrics", "false_negative_rate"]


@dataclass(frozen=True)
class MultiLabelMetrics:
    """Scores of predicted label sets against true ones (unknown entries left out)."""

    micro_f1: float  # F1 of all (row, label) decisions pooled
    macro_f1: float  # mean per-label F1 over labels with a true or predicted positive
    subset_accuracy: float  # rows whose known entries are all right
    hamming_loss: float  # fraction of known entries that are wrong
    mean_average_precision: float | None  # mean per-label AP of the scores (None without scores)
    per_label_f1: list[float] = field(default_factory=list)  # NaN where undefined
    per_label_support: list[int] = field(default_factory=list)  # known positives per label
    per_label_precision: list[float] = field(default_factory=list)  # NaN without a predicted positive
    per_label_recall: list[float] = field(default_factory=list)  # NaN without a known positive

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _check(Y: Any, P: Any) -> tuple[np.ndarray, np.ndarray]:
    Y = np.asarray(Y, dtype=np.float64)
    P = np.asarray(P, dtype=np.float64)
    if Y.ndim != 2 or Y.shape != P.shape:
        raise InputError(f"True and predicted label matrices differ in shape: {Y.shape} vs {P.shape}.")
    return Y, P


def multilabel_metrics(Y_true: Any, Y_pred: Any, scores: Any | None = None) -> MultiLabelMetrics:
    """Micro/macro-F1, subset accuracy, Hamming loss and (given ``scores``) mean AP.

    >>> m = multilabel_metrics([[1, 0], [1, 1]], [[1, 0], [1, 0]])
    >>> round(m.micro_f1, 4), m.subset_accuracy, m.hamming_loss
    (0.8, 0.5, 0.25)
    """
    Y, P = _check(Y_true, Y_pred)
    known = ~np.isnan(Y)
    Yk = np.where(known, Y, 0.0)
    Pk = np.where(known, P, 0.0)
    tp = (Pk * Yk).sum(axis=0)
    fp = (Pk * (1 - Yk) * known).sum(axis=0)
    fn = ((1 - Pk) * Yk).sum(axis=0)
    denom = 2 * tp + fp + fn
    micro = 2 * tp.sum() / denom.sum() if denom.sum() > 0 else 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        per = np.where(denom > 0, 2 * tp / denom, np.nan)
        precision = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
        recall = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
    macro = float(np.nanmean(per)) if np.isfinite(per).any() else 1.0
    wrong = (Pk != Yk) & known
    ap = None
    if scores is not None:
        S = np.asarray(scores, dtype=np.float64)
        if S.shape != Y.shape:
            raise InputError(f"scores have shape {S.shape}, expected {Y.shape}.")
        aps = [
            average_precision_score(Y[known[:, j], j], S[known[:, j], j])
            for j in range(Y.shape[1])
            if Yk[:, j].sum() > 0
        ]
        ap = float(np.mean(aps)) if aps else None
    return MultiLabelMetrics(
        micro_f1=float(micro),
        macro_f1=macro,
        subset_accuracy=float(np.mean(~wrong.any(axis=1))),
        hamming_loss=float(wrong.sum() / max(known.sum(), 1)),
        mean_average_precision=ap,
        per_label_f1=[float(v) for v in per],
        per_label_support=[int(v) for v in Yk.sum(axis=0)],
        per_label_precision=[float(v) for v in precision],
        per_label_recall=[float(v) for v in recall],
    )


def false_negative_rate(sets: Any, Y_true: Any) -> float:
    """Mean over rows with a known true label of the fraction of true labels the set misses.

    >>> false_negative_rate([[1, 0, 0], [1, 1, 0]], [[1, 1, 0], [0, 1, 0]])
    0.25
    """
    Y, S = _check(Y_true, sets)
    Yk = np.nan_to_num(Y)
    pos = Yk.sum(axis=1)
    rows = pos > 0
    if not rows.any():
        return 0.0
    missed = (Yk * (1 - S)).sum(axis=1)
    return float(np.mean(missed[rows] / pos[rows]))
