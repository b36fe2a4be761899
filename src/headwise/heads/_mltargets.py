"""Multi-label targets: label lists or indicator matrices to one float matrix with unknown entries.

A multi-label target is an ``(n, L)`` float matrix ``Y`` over the sorted labels ``classes``:
``1`` where the label applies, ``0`` where it does not, and ``NaN`` where it is unknown (partial
labels: heads mask those entries instead of counting them as negatives). These are pure functions;
the heads, metrics and conformal sets all read targets through :func:`multilabel_targets`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._validation import check_one_label_type, shown
from ..exceptions import InputError

__all__ = ["is_label_lists", "multilabel_targets", "align_targets", "refuse_label_lists"]

_SEQUENCE_TYPES = (list, tuple, set, frozenset, np.ndarray)


def is_label_lists(y: Any) -> bool:
    """Whether ``y`` is a sequence whose entries are themselves label sequences.

    >>> is_label_lists([[1, 2], [3]]), is_label_lists([1, 2]), is_label_lists(np.eye(2))
    (True, False, False)
    """
    if isinstance(y, np.ndarray):
        if y.dtype != object or y.ndim != 1:
            return False
    elif not isinstance(y, Sequence) or isinstance(y, (str, bytes)):
        return False
    return len(y) > 0 and all(isinstance(v, _SEQUENCE_TYPES) for v in y)


def refuse_label_lists(y: Any, owner: str) -> None:
    """One clear error when a single-label head is given multi-label targets."""
    if is_label_lists(y) or (
        isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype == object and y.size
        and isinstance(y[0], _SEQUENCE_TYPES)
    ):
        raise InputError(
            f"y holds a list of labels per row (multi-label data), but {owner} predicts one label "
            "per row. Use a multi-label head (mlridge, mllogistic, mlknn), or pick one label per row."
        )


def _check_list_labels(rows: list[list[Any]]) -> list[Any]:
    """Every label of every row: one hashable scalar that is not missing."""
    flat = []
    for i, r in enumerate(rows):
        for v in r:
            if v is None or (isinstance(v, float | np.floating) and not np.isfinite(v)):
                raise InputError(
                    f"Row {i}'s label list holds a missing label ({v!r}); drop it from the list "
                    "(an empty list means no label applies)."
                )
            if isinstance(v, (*_SEQUENCE_TYPES, dict)):
                # np.unique would flatten (1, 2) into the labels 1 and 2
                raise InputError(
                    f"Row {i}'s label list holds {v!r}, itself a sequence; each label must be a "
                    "name or an integer (give a tuple as a name, e.g. '1-2')."
                )
            flat.append(v)
    check_one_label_type(flat, "Label lists")
    return flat


def _from_lists(y: Any) -> tuple[np.ndarray, np.ndarray]:
    rows = [list(v) for v in y]
    flat = _check_list_labels(rows)
    classes = np.unique(np.asarray(flat)) if flat else np.asarray([], dtype=np.int64)
    Y = np.zeros((len(rows), classes.size))
    for i, r in enumerate(rows):
        if r:
            Y[i, np.searchsorted(classes, np.asarray(r, dtype=classes.dtype))] = 1.0
    return Y, classes


def _from_indicator(y: Any) -> tuple[np.ndarray, np.ndarray]:
    if sp.issparse(y):
        y = y.toarray()
    Y = np.array(y, dtype=np.float64)  # a copy: callers' arrays are never changed
    if Y.ndim != 2:
        raise InputError(f"Multi-label y must be 2-D (n_samples, n_labels); got shape {Y.shape}.")
    Y[Y == -1] = np.nan  # -1 is the usual spelling of "unknown" in partial-label data
    ok = np.isnan(Y) | (Y == 0) | (Y == 1)
    if not ok.all():
        r, c = np.argwhere(~ok)[0]
        raise InputError(
            f"A multi-label indicator matrix holds 0, 1, or -1/NaN for unknown; entry ({r}, {c}) "
            f"is {y[r][c]!r}."
        )
    return Y, np.arange(Y.shape[1])


def multilabel_targets(y: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(Y, classes)``: the float target matrix (NaN = unknown) and its sorted labels.

    Accepts label lists (``[["joy"], ["anger", "fear"], []]``; a Python list of lists is always
    read as label lists), an indicator matrix ``(n, L)`` as a 2-D numpy or sparse array with
    ``-1`` or ``NaN`` marking unknown entries (labels are the column numbers), or one label per
    row (a multi-class target, read as one positive label per row).

    >>> Y, classes = multilabel_targets([["b"], ["a", "b"], []])
    >>> classes.tolist(), Y.tolist()
    (['a', 'b'], [[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    >>> multilabel_targets(np.array([[1, -1], [0, 1]]))[0].tolist()
    [[1.0, nan], [0.0, 1.0]]
    """
    if y is None:
        raise InputError(
            "This head requires y to be passed, but the target y is None; give label lists or "
            "an indicator matrix."
        )
    if is_label_lists(y):
        return _from_lists(y)
    if sp.issparse(y) or np.ndim(y) == 2:
        return _from_indicator(y)
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise InputError(f"y must be label lists or a 2-D indicator matrix; got shape {arr.shape}.")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InputError("y contains NaN or infinity; use -1/NaN only inside an indicator matrix.")
    if arr.dtype == object and any(v is None for v in arr):
        raise InputError("y contains None; give every row a label list (empty for no label).")
    if arr.dtype == object:
        check_one_label_type(arr)
    classes, codes = np.unique(arr, return_inverse=True)
    Y = np.zeros((arr.size, classes.size))
    Y[np.arange(arr.size), codes] = 1.0
    return Y, classes


def align_targets(Y: np.ndarray, classes: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Columns of ``Y`` (over ``classes``) rearranged to ``target``; absent labels are 0.

    Raises when ``classes`` holds a label that ``target`` lacks (a label the head never saw).
    """
    if classes.size and target.size and (classes.dtype.kind in "USO") != (target.dtype.kind in "USO"):
        raise InputError(
            f"Labels mix text and numbers ({classes[:1].tolist()} vs {target[:1].tolist()}); "
            "use one label type throughout."
        )
    missing = np.setdiff1d(classes, target)
    if missing.size:
        raise InputError(
            f"{missing.size} label(s) were never seen when the head was fitted "
            f"(e.g. {shown(missing[0])!r}); the head can only score the labels it was fitted on."
        )
    out = np.zeros((Y.shape[0], target.size))
    out[:, np.searchsorted(target, classes)] = Y
    return out
