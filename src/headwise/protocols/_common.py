"""Pieces the protocols share: head resolution, leakage checks, scoring."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import clone

from .._validation import check_embeddings, check_labels, check_n_features, check_seen_labels
from ..exceptions import InputError
from ..splits import overlap_mask, row_keys  # re-exported: they live with the splits

__all__ = [
    "LeakageError",
    "resolve_heads",
    "row_keys",
    "overlap_mask",
    "check_split",
    "check_seeds",
    "accuracy",
]


class LeakageError(InputError):
    """Test rows that also appear in the rows a protocol learns or selects from."""


def resolve_heads(heads: Any) -> dict[str, Any]:
    """``{"name": estimator}`` from registry names, a mapping or a sequence of estimators.

    Estimators are cloned on every use by the protocols, so the ones passed in stay unfitted.
    """
    from ..heads import get_head

    if isinstance(heads, str):
        heads = [h.strip() for h in heads.split(",") if h.strip()]
    if isinstance(heads, Mapping):
        out = {str(k): (get_head(v) if isinstance(v, str) else v) for k, v in heads.items()}
    else:
        out = {}
        for h in heads:
            if isinstance(h, str):
                out[h] = get_head(h)
            else:
                out[getattr(type(h), "_head_name", type(h).__name__)] = h
    if not out:
        raise InputError("No heads given; pass at least one head name (e.g. 'lda,logistic').")
    multi = next((n for n, h in out.items() if getattr(h, "_target_kind", "single") == "multilabel"), None)
    if multi is not None:  # its (n, L) indicator predictions met one label per row: a traceback
        raise InputError(
            f"Head '{multi}' predicts a set of labels per row; this protocol scores one label per "
            "row. Use a single-label head here; multi-label data is evaluated with `headwise fit` "
            "and `headwise eval --model`."
        )
    return out


def fresh(head: Any) -> Any:
    """An unfitted copy of ``head`` with the same parameters."""
    return clone(head)


def check_split(X: Any, y: Any, name: str, n_features: int | None = None,
                seen: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(X, y)`` of one split; ``n_features`` enforces the training width and
    ``seen`` (the training labels) refuses labels that no training row has."""
    Xa = check_embeddings(X, name=f"X_{name}")
    ya = check_labels(y, n_rows=Xa.shape[0], min_classes=1)
    if n_features is not None:
        check_n_features(Xa.shape[1], n_features, f"the {name} split")
    if seen is not None:
        check_seen_labels(ya, seen, name)
    return Xa, ya


MAX_SEEDS = 10_000  # repetitions of a protocol (MTEB runs 10); more is a typo, not a study


def check_seeds(seeds: Any) -> tuple[int, ...]:
    """Seeds as a tuple of non-negative ints; an int ``n`` means ``range(n)``. At most
    :data:`MAX_SEEDS` of them: each is a fit per head and shot count, and 10⁹ seeds filled the
    memory (the tuple alone) before the first fit."""
    count = int(seeds) if isinstance(seeds, int | np.integer) and not isinstance(seeds, bool) \
        else len(seeds) if hasattr(seeds, "__len__") else None
    if count is not None and count > MAX_SEEDS:
        raise InputError(
            f"{count} seeds were asked for; the most a run takes is {MAX_SEEDS} (each seed is one "
            "fit per head and shot count; MTEB uses 10). Lower --seeds."
        )
    if isinstance(seeds, int | np.integer) and not isinstance(seeds, bool):
        if seeds < 1:
            raise InputError(f"The number of seeds must be at least 1. Got {seeds} instead.")
        return tuple(range(int(seeds)))
    out = tuple(int(s) for s in seeds)
    if not out or any(s < 0 for s in out):
        raise InputError(f"seeds must be a non-empty list of non-negative ints. Got {seeds!r} instead.")
    return out


def check_positive_ints(values: Any, name: str) -> tuple[int, ...]:
    if isinstance(values, int | np.integer):
        values = [values]
    try:
        out = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        out = ()
    if not out or any(v < 1 for v in out):
        raise InputError(f"{name} must be positive integers (e.g. 1,2,4,8). Got {values!r} instead.")
    return out


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))
