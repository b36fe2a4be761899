"""The head-file schema: what a loaded head must satisfy before it is used.

Checked in two steps, each failure one :class:`~headwise.exceptions.HeadFileError` line:
:func:`validate_state` before the head is built (every state record well-formed, every array it
names present with a numeric dtype; NaN may be legitimate in a diagnostic such as a
loss log, so values are judged by the probe) and :func:`validate_loaded_head` after
(a fitted feature count, a 1-D class list, and a probe prediction on zeros whose shape matches
the class list and whose values are finite).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import HeadFileError

__all__ = ["validate_state", "validate_loaded_head"]

_KINDS = ("array", "list", "value", "stats", "mlstats", "head", "heads")  # "heads": an ensemble's members


def _fail(path: Path, what: str) -> HeadFileError:
    return HeadFileError(f"Head file {path} {what}. It was edited or damaged; fit and save the head again.")


def validate_state(path: Path, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
    """Check the state records and the arrays before anything is built from them."""
    for name, info in state.items():
        if not isinstance(info, dict) or info.get("kind") not in _KINDS:
            raise _fail(path, f"has a malformed state record for {name!r}")
        if info["kind"] == "array" and name not in arrays:
            raise _fail(path, f"lacks the array {name!r} its state lists")
        if info["kind"] == "list":
            try:
                dtype = np.dtype(info.get("dtype"))
            except TypeError:
                raise _fail(path, f"gives {name!r} an unknown dtype {info.get('dtype')!r}") from None
            if dtype.kind in "OVM" or not isinstance(info.get("value"), list):
                raise _fail(path, f"stores {name!r} with dtype {dtype} (object or not a list)")
    for name, arr in arrays.items():
        if arr.dtype.kind not in "fiub":
            raise _fail(path, f"holds array {name!r} of dtype {arr.dtype}, expected numbers")


def validate_loaded_head(path: Path, head: Any) -> None:
    """Check a built head: feature count, class list, and a finite probe prediction."""
    n = getattr(head, "n_features_in_", None)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise _fail(path, f"has n_features_in_={n!r}, expected a positive int")
    scale = getattr(head, "input_scale_", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, int | float | np.number) or not 0 < scale < np.inf:
        raise _fail(path, f"has input_scale_={scale!r}, expected a positive number")
    classes = getattr(head, "classes_", None)
    if classes is not None:
        classes = np.asarray(classes)
        if classes.ndim != 1 or classes.size < 1 or np.unique(classes).size != classes.size:
            raise _fail(path, f"has a class list of shape {classes.shape} with repeats or none")
    if getattr(head, "_input_kind", "rows") != "rows" or not hasattr(head, "predict_proba"):
        return
    try:
        with np.errstate(all="ignore"):
            proba = np.asarray(head.predict_proba(np.zeros((2, int(n)), dtype=np.float32)))
    except Exception as exc:  # noqa: BLE001 - any failure of a probe means an inconsistent file
        raise _fail(path, f"is inconsistent: a probe prediction failed ({type(exc).__name__}: {exc})") from None
    want = (2, classes.size) if classes is not None else proba.shape
    if proba.shape != want:
        raise _fail(path, f"is inconsistent: it predicts {proba.shape[-1]} columns for {want[1]} classes")
    if not np.isfinite(proba).all():
        raise _fail(path, "predicts NaN or infinite probabilities")
