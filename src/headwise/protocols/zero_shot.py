"""Zero-shot evaluation: classify with embeddings of the class names only, no labelled rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..heads import TEXT_TEMPLATES, ZeroShotHead
from ._common import accuracy, check_split
from ._results import RunRecord, ZeroShotResult, data_hash, head_params

__all__ = ["zero_shot_eval"]


def zero_shot_eval(
    encoder: Any,
    X_test: Any,
    y_test: Any,
    *,
    labels: Sequence[Any] | None = None,
    class_names: Any = None,
    templates: Sequence[str] = TEXT_TEMPLATES,
) -> ZeroShotResult:
    """Accuracy of :class:`ZeroShotHead` on ``(X_test, y_test)``.

    ``labels`` lists the candidate classes (default: those in ``y_test``); ``class_names``
    maps them to the names put in the prompts (default: the labels themselves).

    >>> from headwise.encoders import HashEncoder
    >>> enc = HashEncoder(dim=64)
    >>> X = enc.encode(["sport", "weather", "sport"])
    >>> zero_shot_eval(enc, X, ["sport", "weather", "sport"], templates=("{}",)).accuracy
    1.0
    """
    from sklearn.metrics import f1_score

    Xte, yte = check_split(X_test, y_test, "test")
    cands = np.unique(np.asarray(labels if labels is not None else yte))
    head = ZeroShotHead(encoder, class_names=class_names, templates=tuple(templates))
    head.fit_names(cands)
    pred = head.predict(Xte)
    names = tuple(head._names_for(head.classes_))
    enc = head.encoder_
    key = enc.key() if hasattr(enc, "key") else None
    params = {k: v for k, v in head_params(head).items() if k != "encoder"}
    record = RunRecord(
        protocol="zeroshot", encoder=key, data_hash=data_hash(Xte, yte), seeds=(),
        heads={"zeroshot": params}, settings={"labels": [str(c) for c in cands]},
    )
    return ZeroShotResult(accuracy(yte, pred), float(f1_score(yte, pred, average="macro")),
                          int(Xte.shape[0]), names, tuple(templates), record)
