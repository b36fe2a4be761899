"""The shell every head shares: validation, logits-first predictions, state for save/load."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import (
    check_fit_inputs,
    check_n_features,
    check_on_scale,
    check_row_range,
    extreme_scale,
    shown,
)
from ..exceptions import HeadwiseError, InputError, InputTypeError
from ._mltargets import refuse_label_lists
from ._registry import get_head_class, name_of_head
from ._stats import SufficientStats

__all__ = ["BaseHead"]


def _check_scores(z: np.ndarray, X: np.ndarray) -> None:
    """Refuse rows whose class scores overflowed (see :meth:`BaseHead.logits`)."""
    if z.ndim != 2 or z.size == 0 or np.isfinite(z).all():
        return
    bad = np.isnan(z).any(axis=1) | np.isposinf(z).any(axis=1) | np.isneginf(z).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        big = float(np.max(np.abs(X[i]))) if X.ndim == 2 and X.shape[1] else float("nan")
        raise InputError(
            f"Row {i} has no usable class scores: its values (largest |x| = {big:.3g}) overflow "
            "the head's arithmetic. Send vectors on the scale of those the head was fitted on "
            "(from the same encoder)."
        )


def _friendly_precheck(est: BaseHead, X: Any, *, reset: bool) -> None:
    """Clear messages for the common mistakes before sklearn's generic validation runs."""
    if sp.issparse(X) or not hasattr(X, "__len__") and not hasattr(X, "__array__"):
        return
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError):
        return
    if arr.ndim != 2 or arr.dtype.kind not in "fiu":
        return
    if not reset and hasattr(est, "n_features_in_"):
        check_n_features(arr.shape[1], est.n_features_in_, type(est).__name__)
    # one float64 sum is finite exactly when every entry is (barring overflow, which only sends
    # us to the exact check): no n×d boolean array for the common, clean case
    if arr.dtype.kind != "f" or not arr.size:
        return
    with np.errstate(over="ignore", invalid="ignore"):
        clean = bool(np.isfinite(arr.sum(dtype=np.float64)))
    if not clean:
        finite = np.isfinite(arr)
        if not finite.all():
            bad = np.flatnonzero(~finite.all(axis=1))
            raise InputError(
                f"Input X contains NaN or infinity in {bad.size} row(s) (first: row {int(bad[0])}). "
                "Re-embed those inputs or drop them."
            )


@contextlib.contextmanager
def _as_input_error() -> Iterator[None]:
    """sklearn's validation errors, re-raised as headwise's (same message, same base types)."""
    try:
        yield
    except HeadwiseError:
        raise
    except TypeError as exc:
        raise InputTypeError(str(exc)) from None
    except ValueError as exc:
        raise InputError(str(exc)) from None


class BaseHead(ClassifierMixin, BaseEstimator):
    """Base class for headwise heads: subclasses implement ``fit`` and ``_logits``.

    ``logits(X)`` returns an ``(n, n_classes)`` score matrix; ``predict_proba`` is its softmax,
    ``predict`` its argmax and ``decision_function`` its binary difference (sklearn convention).
    """

    # ---------------------------------------------------------------- validation
    def _validate_fit(self, X: Any, y: Any, *, reset: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Validate ``X, y`` (every error an :class:`InputError`) and undo an extreme scale.

        On ``reset`` the head records ``input_scale_`` (1.0 unless ``max|X|`` is beyond about
        1e±9, see :func:`headwise._validation.extreme_scale`); X is divided by it here and in
        :meth:`_validate_predict`, so no head overflows or underflows on features ×1e±20.
        """
        refuse_label_lists(y, type(self).__name__)
        check_fit_inputs(X, y, type(self).__name__)
        _friendly_precheck(self, X, reset=reset)
        with _as_input_error():
            X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32])
            check_classification_targets(y)
        return self._scaled(X, reset=reset), y

    def _scaled(self, X: np.ndarray, *, reset: bool) -> np.ndarray:
        """``X`` divided by the fit's scale. On ``reset`` the scale is recorded from ``X``
        (a row far off the others refused); rows learnt later (``partial_fit``) must be on it."""
        if reset or not hasattr(self, "input_scale_"):
            check_row_range(X)
            self.input_scale_ = extreme_scale(X)
            return self._unscale(X)
        X = self._unscale(X)
        check_on_scale(X)
        return X

    def _unscale(self, X: np.ndarray) -> np.ndarray:
        scale = getattr(self, "input_scale_", 1.0)
        return X if scale == 1.0 else X / np.asarray(scale, dtype=X.dtype)

    def _validate_predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        _friendly_precheck(self, X, reset=False)
        with _as_input_error():
            X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self._unscale(X)

    @staticmethod
    def _require_two_classes(y: np.ndarray) -> None:
        classes = np.unique(y)
        if classes.size < 2:
            raise InputError(
                f"y has only one class ({shown(classes[0])!r}); a classifier needs at least two classes. "
                "Check the label column and the split you train on."
            )

    # ---------------------------------------------------------------- predictions
    def _logits(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def logits(self, X: Any) -> np.ndarray:
        """Unnormalised class scores, shape ``(n_samples, n_classes)``, columns in ``classes_``.

        Raises :class:`InputError` when a row's scores are not numbers (NaN, or +inf) or all
        ``-inf``: finite rows far off the training scale overflow, and their probabilities
        would be NaN.
        """
        X = self._validate_predict(X)
        check_on_scale(X)
        z = np.asarray(self._logits(X), dtype=np.float64)
        _check_scores(z, X)
        return z

    def decision_function(self, X: Any) -> np.ndarray:
        z = self.logits(X)
        if z.shape[1] == 2:
            return z[:, 1] - z[:, 0]
        return z

    def predict_proba(self, X: Any) -> np.ndarray:
        return softmax(self.logits(X), axis=1)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        return log_softmax(self.logits(X), axis=1)

    def predict(self, X: Any) -> np.ndarray:
        z = self.logits(X)  # first: it raises NotFittedError before classes_ is looked up
        return self.classes_[np.argmax(z, axis=1)]

    # ---------------------------------------------------------------- persistence
    def save(self, path: str | Path, *, encoder_key: dict[str, Any] | None = None) -> Path:
        """Save to a safetensors file (no pickle); see :func:`headwise.heads.load_head`."""
        from ._io import save_head

        return save_head(self, path, encoder_key=encoder_key)

    def _fitted_attributes(self) -> list[str]:
        return [
            k
            for k in vars(self)
            if k.endswith("_") and not k.startswith("_") and k != "encoder_key_"
        ]

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Split fitted attributes into numeric arrays and JSON-able metadata.

        A fitted attribute that is itself a registered head (a base or inner head) is saved
        nested: its arrays under ``<name>/``, its record ``{"kind": "head", "head": registry
        name, "params": ..., "meta": its own state}``.
        """
        arrays: dict[str, np.ndarray] = {}
        meta: dict[str, Any] = {}
        for name in self._fitted_attributes():
            value = getattr(self, name)
            if isinstance(value, BaseHead):
                inner_arrays, inner_meta = value._get_state()
                arrays.update({f"{name}/{k}": v for k, v in inner_arrays.items()})
                meta[name] = {"kind": "head", "head": name_of_head(type(value)),
                              "params": value.get_params(deep=False), "meta": inner_meta}  # fmt: skip
            elif isinstance(value, SufficientStats):
                a, m = value.to_arrays(prefix=f"{name}.")
                arrays.update(a)
                meta[name] = {"kind": "stats", "meta": m}
            elif isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
                arrays[name] = value
                meta[name] = {"kind": "array"}
            elif isinstance(value, np.ndarray):
                if value.dtype == object and all(isinstance(v, str) for v in value.ravel()):
                    value = value.astype(str)  # text labels held as objects (e.g. folder names)
                meta[name] = {"kind": "list", "dtype": value.dtype.str, "value": value.tolist()}
            elif isinstance(value, np.generic):
                meta[name] = {"kind": "value", "value": value.item()}
            elif value is None or isinstance(value, (bool, int, float, str, list, dict)):
                meta[name] = {"kind": "value", "value": value}
            else:
                raise TypeError(f"{type(self).__name__}.{name} of type {type(value)} cannot be saved")
        return arrays, meta

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        for name, info in meta.items():
            kind = info["kind"]
            if kind == "stats":
                setattr(self, name, SufficientStats.from_arrays(arrays, info["meta"], prefix=f"{name}."))
            elif kind == "array":
                setattr(self, name, np.asarray(arrays[name]))
            elif kind == "list":
                setattr(self, name, np.asarray(info["value"], dtype=np.dtype(info["dtype"])))
            elif kind == "head":
                setattr(self, name, _nested_head(name, info, arrays))
            else:
                setattr(self, name, info["value"])

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def _nested_head(name: str, info: dict[str, Any], arrays: dict[str, np.ndarray]) -> BaseHead:
    """The head saved nested as attribute ``name`` (see :meth:`BaseHead._get_state`).

    Files written before the one layout (transductive and logit-adjusted heads) keep their
    own: the inner state under ``"state"`` (not ``"meta"``), arrays under ``<name>.``, and the
    transductive head's registry name under ``"name"``; they load unchanged.
    """
    if "meta" in info:
        prefix, inner_meta = f"{name}/", info["meta"]
    else:
        prefix, inner_meta = f"{name}.", info["state"]
    head = get_head_class(info["head"] if "head" in info else info["name"])(**info["params"])
    head._set_state({k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}, inner_meta)
    return head  # type: ignore[no-any-return]
