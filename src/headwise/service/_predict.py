"""The one place the service turns embeddings into answers (labels, sets, OOD), per row.

Kept small and separate so the service can switch to the library's predict workflow
(``headwise.workflows``) without touching the HTTP layer: it takes a model state and an
embedding matrix and returns plain JSON-able rows.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import softmax

from ..trust import nonconformity_scores, ood_scores

__all__ = ["predict_rows"]


def _finite(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def predict_rows(
    state: Any,
    X: np.ndarray,
    *,
    alpha: float,
    top_k: int,
    method: str,
    ood_method: str,
    include_logits: bool = False,
) -> list[dict[str, Any]]:
    """Label, top-k probabilities, conformal set, OOD score and flag for every row of ``X``.

    Probabilities are ``softmax(logits / T)`` with the model's calibration temperature. The set
    holds the classes whose non-conformity score is within the calibrated threshold at ``alpha``
    (most probable first); ``prediction_set`` and ``ood`` are ``None`` without calibration.
    """
    head = state.head
    logits = np.asarray(head.logits(X), dtype=np.float64)
    proba = softmax(logits / state.temperature, axis=1)
    ood = ood_scores(head, X, ood_method, temperature=state.temperature)
    found = state.thresholds(alpha)
    sets = flags = None
    if found is not None:
        q, ood_q = found
        sets = nonconformity_scores(proba, method) <= q[None, :]
        flags = ood > ood_q
    classes = [c.item() if hasattr(c, "item") else c for c in head.classes_]
    k = min(top_k, len(classes))
    order = np.argsort(-proba, axis=1, kind="stable")
    out = []
    for i in range(X.shape[0]):
        o = order[i]
        row: dict[str, Any] = {
            "label": classes[o[0]],
            "top_k": [{"label": classes[j], "probability": float(proba[i, j])} for j in o[:k]],
            "prediction_set": None if sets is None else [classes[j] for j in o if sets[i, j]],
            "ood_score": float(ood[i]),
            "ood": None if flags is None else bool(flags[i]),
        }
        if include_logits:
            row["logits"] = [_finite(v) for v in logits[i]]
        out.append(row)
    return out
