"""The one place the service turns embeddings into answers (labels, sets, OOD), per row.

It takes a model state and embedding matrices and returns plain JSON-able rows. The math runs once
per call on all the rows stacked, whatever the number of requests they came from: one validated
``head.logits`` call (the OOD score is derived from those logits, not from a second pass through
the head), one softmax, one matrix of non-conformity scores; only the threshold (``alpha``) and
the rendering are per request. Under load the service hands it every request of a micro-batch at
once (:class:`~headwise.service._coalesce.PredictCoalescer`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import softmax

from ..trust import logit_ood_scores, nonconformity_scores

__all__ = ["PredictJob", "predict_many", "predict_rows"]


@dataclass(frozen=True)
class PredictJob:
    """The rows of one request and how it wants them answered."""

    X: np.ndarray  # (n, d) embeddings
    alpha: float  # miscoverage of its conformal sets
    top_k: int  # most probable labels to list
    include_logits: bool = False  # also return the raw logits


def _finite(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def predict_many(
    state: Any, jobs: Sequence[PredictJob], *, method: str, ood_method: str
) -> list[list[dict[str, Any]]]:
    """:func:`predict_rows` for several requests to one model state, in one pass over their rows.

    Returns one list of rows per job, in order; each equals ``predict_rows`` on that job alone.
    """
    if not jobs:
        return []
    X = jobs[0].X if len(jobs) == 1 else np.concatenate([j.X for j in jobs], axis=0)
    head = state.head
    logits = np.asarray(head.logits(X), dtype=np.float64)
    proba = softmax(logits / state.temperature, axis=1)
    ood = logit_ood_scores(logits, ood_method, temperature=state.temperature)
    scores = nonconformity_scores(proba, method) if state.conformal is not None else None
    order = np.argsort(-proba, axis=1, kind="stable")
    classes = [c.item() if hasattr(c, "item") else c for c in head.classes_]
    out, start = [], 0
    for job in jobs:
        stop = start + job.X.shape[0]
        found = state.thresholds(job.alpha)
        sets = flags = None
        if found is not None and scores is not None:
            q, ood_q = found
            sets = scores[start:stop] <= q[None, :]
            flags = ood[start:stop] > ood_q
        out.append(
            _render(classes, order[start:stop], proba[start:stop], ood[start:stop], sets, flags,
                    logits[start:stop] if job.include_logits else None, job.top_k)
        )  # fmt: skip
        start = stop
    return out


def _render(
    classes: list[Any],
    order: np.ndarray,
    proba: np.ndarray,
    ood: np.ndarray,
    sets: np.ndarray | None,
    flags: np.ndarray | None,
    logits: np.ndarray | None,
    top_k: int,
) -> list[dict[str, Any]]:
    k = min(top_k, len(classes))
    top = np.take_along_axis(proba, order[:, :k], axis=1).tolist()
    ood_list = ood.tolist()
    out = []
    for i in range(order.shape[0]):
        o = order[i]
        head_o = o[:k].tolist()
        row: dict[str, Any] = {
            "label": classes[head_o[0]],
            "top_k": [{"label": classes[j], "probability": _finite(p)} for j, p in zip(head_o, top[i], strict=True)],
            "prediction_set": None if sets is None else [classes[j] for j in o[sets[i, o]].tolist()],
            "ood_score": _finite(ood_list[i]),
            "ood": None if flags is None else bool(flags[i]),
        }  # fmt: skip
        if logits is not None:
            row["logits"] = [_finite(v) for v in logits[i].tolist()]
        out.append(row)
    return out


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
    job = PredictJob(X, alpha, top_k, include_logits)
    return predict_many(state, [job], method=method, ood_method=ood_method)[0]
