"""A calibrated multi-label head on labelled test rows: what `headwise report` shows for it.

``fit --calibrate --run-dir RUN`` on multi-label data writes ``RUN/multilabel.json``: the
metrics, per-label F1 / precision / recall / support, and the empirical behaviour of both kinds
of conformal label sets at the model's α (CRC: false-negative rate; LAC: per-label coverage).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InputError
from ..trust import MULTILABEL_METHODS, MultiLabelConformal, false_negative_rate, multilabel_metrics

__all__ = ["MultiLabelFit", "multilabel_run_summary", "write_multilabel_run"]


@dataclass
class MultiLabelFit:
    """A fitted multi-label head and, with calibration, its held-out logits and targets."""

    head: Any
    name: str  # registry name of the head
    n_train: int
    cal_logits: np.ndarray | None = None
    cal_targets: np.ndarray | None = None


def _plain(v: Any) -> Any:
    return v.item() if hasattr(v, "item") else v


def _nan_to_none(v: float) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)


def multilabel_run_summary(
    fit: MultiLabelFit, X: np.ndarray, labels: Any, alpha: float
) -> dict[str, Any]:
    """What a report shows for a calibrated multi-label head on labelled rows ``X``: the
    metrics, per-label F1 / precision / recall / support, and the empirical behaviour of the
    conformal label sets at ``alpha`` — the false-negative rate of the CRC sets (guaranteed
    ``≤ α`` in expectation) and the per-label coverage of the LAC sets (``≥ 1 − α`` per label).
    """
    if fit.cal_logits is None or fit.cal_targets is None:
        raise InputError("A multi-label run summary needs calibration rows: fit with --calibrate.")
    head = fit.head
    Y = head._known_targets([list(v) for v in labels], X.shape[0])
    z = head.logits(X)
    m = multilabel_metrics(Y, head.predict(X), scores=z)
    pos = np.nan_to_num(Y) > 0
    support = pos.sum(axis=0)
    labelled = pos.any(axis=1)
    sets: dict[str, Any] = {}
    per_label_cov: dict[str, np.ndarray] = {}
    for method in MULTILABEL_METHODS:
        conf = MultiLabelConformal.from_calibration(head, fit.cal_logits, fit.cal_targets, method)
        S = z >= conf.thresholds(alpha)
        cov = np.where(support > 0, (S & pos).sum(axis=0) / np.maximum(support, 1), np.nan)
        per_label_cov[method] = cov
        full = (S | ~pos).all(axis=1)[labelled]  # every true label of the row is in its set
        seen = cov[support > 0]
        sets[method] = {
            "fnr": false_negative_rate(S.astype(np.int64), Y),
            "rows_fully_covered": float(full.mean()) if full.size else None,
            "mean_label_coverage": float(seen.mean()) if seen.size else None,
            "worst_label_coverage": float(seen.min()) if seen.size else None,
            "mean_set_size": float(S.sum(axis=1).mean()),
            "empty_rate": float(np.mean(~S.any(axis=1))),
        }
    per_label = [
        {"label": _plain(c), "support": int(support[j]), "f1": _nan_to_none(m.per_label_f1[j]),
         "precision": _nan_to_none(m.per_label_precision[j]),
         "recall": _nan_to_none(m.per_label_recall[j]),
         "crc_coverage": _nan_to_none(per_label_cov["crc"][j]),
         "lac_coverage": _nan_to_none(per_label_cov["lac"][j])}
        for j, c in enumerate(head.classes_)
    ]  # fmt: skip
    metrics = {k: v for k, v in m.as_dict().items() if not k.startswith("per_label")}
    return {
        "head": fit.name, "alpha": float(alpha), "n_train": fit.n_train,
        "n_calibration": int(fit.cal_logits.shape[0]), "n_test": int(X.shape[0]),
        "n_test_labelled": int(labelled.sum()), "n_labels": int(head.classes_.size),
        "metrics": metrics, "sets": sets, "per_label": per_label,
    }  # fmt: skip


def write_multilabel_run(run_dir: str | Path, summary: dict[str, Any]) -> Path:
    """Write ``RUN/multilabel.json`` (temp file, then rename; the folder is created)."""
    from .._atomic import write_json

    path = Path(run_dir) / "multilabel.json"
    return write_json(path, summary, what="Multi-label result", make_parents=True)
