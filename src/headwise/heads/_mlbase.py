"""The shell every multi-label head shares: per-label logits, thresholds tuned for F1, or top-k.

A multi-label head scores every label independently: ``logits(X)`` is ``(n, n_labels)`` and
``predict_proba`` its element-wise sigmoid (columns do not sum to one). ``predict`` returns a 0/1
indicator matrix over ``classes_``: a label is on where its logit reaches ``thresholds_``, or, with
``top_k``, the ``k`` highest-scoring labels of each row.
"""

from __future__ import annotations

from numbers import Real
from typing import Any, Self

import numpy as np
from scipy.special import expit
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import check_fit_inputs, check_param_float, check_param_int, extreme_scale
from ..exceptions import InputError
from ._base import BaseHead, _as_input_error, _friendly_precheck
from ._mltargets import align_targets, is_label_lists, multilabel_targets

__all__ = ["FBR", "MultiLabelHead", "f1_thresholds", "kfold_rows", "random_holdout", "top_k_indicator"]


FBR = 0.1
"""The F1 below which a tuned cut is not trusted (SCutFBR.1, Yang 2001; see :func:`f1_thresholds`)."""


def f1_thresholds(
    scores: np.ndarray, Y: np.ndarray, default: float = 0.0, fbr: float = FBR
) -> np.ndarray:
    """Per-label threshold on ``scores`` that maximises that label's F1 on ``(scores, Y)``.

    ``Y`` is 0/1 with NaN for unknown entries (ignored). The threshold sits halfway between the
    lowest score kept and the next one; cuts fall only between distinct scores. A label with no
    known positive row keeps ``default``. Where the best cut's F1 is below ``fbr`` the cut is not
    evidence of anything (a rare label whose one or two positives rank among the negatives: its
    F1-best cut admits most rows), so the threshold becomes the label's highest score instead and
    the label is predicted only for rows that score at least that high (SCutFBR.1, Y. Yang, "A
    study of thresholding strategies for text categorization", SIGIR 2001).

    >>> s = np.array([[3.0], [2.0], [1.0], [0.0]])
    >>> f1_thresholds(s, np.array([[1.0], [1.0], [0.0], [0.0]])).tolist()
    [1.5]
    """
    n, L = scores.shape
    out = np.full(L, float(default))
    for j in range(L):
        known = ~np.isnan(Y[:, j])
        s, y = scores[known, j], Y[known, j]
        P = float(y.sum())
        if P == 0:
            continue
        order = np.argsort(-s, kind="stable")
        s, y = s[order], y[order]
        tp = np.cumsum(y)
        k = np.arange(1, s.size + 1)
        f1 = 2.0 * tp / (k + P)
        valid = np.ones(s.size, dtype=bool)
        valid[:-1] = s[:-1] > s[1:]  # cut only where the next score is strictly lower
        f1[~valid] = -1.0
        b = int(np.argmax(f1))
        if f1[b] < fbr:
            out[j] = s[0]
        else:
            out[j] = (s[b] + s[b + 1]) / 2.0 if b + 1 < s.size else s[b] - 1.0
    return out


def top_k_indicator(scores: np.ndarray, k: int) -> np.ndarray:
    """0/1 matrix marking the ``k`` highest scores of each row (ties: lower column first)."""
    k = min(int(k), scores.shape[1])
    out = np.zeros(scores.shape, dtype=np.int64)
    idx = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    np.put_along_axis(out, idx, 1, axis=1)
    return out


def random_holdout(n: int, fraction: float, random_state: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Sorted ``(train, validation)`` row indices, about ``fraction`` held out; ``None`` if n < 4."""
    n_val = int(np.ceil(fraction * n))
    if n < 4 or n_val < 1 or n - n_val < 2:
        return None
    perm = check_random_state(random_state).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])



def kfold_rows(n: int, folds: int, random_state: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled ``(train, test)`` row indices of ``min(folds, n)`` folds; ``[]`` if n < 4."""
    k = min(int(folds), n)
    if n < 4 or k < 2:
        return []
    parts = np.array_split(check_random_state(random_state).permutation(n), k)
    return [(np.sort(np.concatenate(parts[:i] + parts[i + 1 :])), np.sort(p)) for i, p in enumerate(parts)]


def _n_rows(y: Any) -> int:
    """Rows of a multi-label target (label lists, indicator matrix); 0 when it has no length."""
    try:
        return int(y.shape[0]) if hasattr(y, "shape") else len(y)
    except TypeError:
        return 0


class MultiLabelHead(BaseHead):
    """Base class: subclasses implement ``_fit_core(X, Y)`` and ``_logits(X)``.

    ``fit(X, y)`` takes label lists, an indicator matrix (``-1``/``NaN`` = unknown) or one label
    per row. A head that chooses settings (a penalty) holds out ``validation_fraction`` of the rows
    for that. With ``threshold="f1"`` one threshold per label is then tuned for F1 on out-of-fold
    logits over every row (``round(1 / validation_fraction)`` folds, at least 2, each holding out
    about that fraction; the chosen settings fixed): a rare label has all its positives to tune on
    rather than the one or two a single holdout would keep, and a cut whose
    F1 is below :data:`FBR` falls back to the label's top score (see :func:`f1_thresholds`).
    Finally the head is refitted on all rows and keeps those thresholds
    (:meth:`tune_thresholds` re-tunes them on a validation set of yours).
    """

    _target_kind = "multilabel"  # see headwise.heads.is_multilabel_head
    threshold: float | str
    top_k: int | None
    validation_fraction: float
    random_state: Any

    # ---------------------------------------------------------------- validation
    def _check_ml_params(self) -> None:
        owner = type(self).__name__
        t = self.threshold
        if not (t == "f1" or (isinstance(t, Real) and not isinstance(t, bool) and np.isfinite(t))):
            raise InputError(
                f"The 'threshold' parameter of {owner} must be 'f1' or a finite float (a logit). "
                f"Got {t!r} instead."
            )
        if self.top_k is not None:
            check_param_int(self.top_k, "top_k", owner)
        check_param_float(self.validation_fraction, "validation_fraction", owner, 0.0, 1.0, low_open=True)

    def _validate_ml(self, X: Any, y: Any, *, reset: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if y is None or (not is_label_lists(y) and np.ndim(y) == 1):
            check_fit_inputs(X, y, type(self).__name__)  # one label per row: None/NaN rows named
        else:
            check_fit_inputs(X, [0] * _n_rows(y), type(self).__name__)  # the X checks alone
        _friendly_precheck(self, X, reset=reset)
        with _as_input_error():
            X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32])
        if reset or not hasattr(self, "input_scale_"):
            self.input_scale_ = extreme_scale(X)
        X = self._unscale(X)
        Y, classes = multilabel_targets(y)
        if Y.shape[0] != X.shape[0]:
            raise InputError(
                f"X has {X.shape[0]} rows but y has {Y.shape[0]}; pass one label list per row."
            )
        return X, Y, classes

    def _known_targets(self, y: Any, n_rows: int) -> np.ndarray:
        """``y`` as a target matrix over ``classes_`` (for scoring and threshold tuning)."""
        Y, classes = multilabel_targets(y)
        if Y.shape[0] != n_rows:
            raise InputError(f"X has {n_rows} rows but y has {Y.shape[0]}.")
        if not is_label_lists(y) and np.ndim(y) == 2 and Y.shape[1] == self.classes_.size:
            return Y  # an indicator matrix is already in column order
        return align_targets(Y, classes, self.classes_)

    # ---------------------------------------------------------------- fitting
    def _fit_core(self, X: np.ndarray, Y: np.ndarray, classes: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError

    def _fit_select(
        self, X: np.ndarray, Y: np.ndarray, classes: np.ndarray, val: tuple[np.ndarray, np.ndarray]
    ) -> None:
        """Fit on ``(X, Y)`` and choose settings on ``val`` (heads whose ``_selects_on_validation``)."""
        raise NotImplementedError  # pragma: no cover

    def fit(self, X: Any, y: Any) -> Self:
        """Fit on embeddings ``X`` (n, d) and multi-label targets ``y``; see the class docstring."""
        self._check_ml_params()
        self._reset()
        X, Y, classes = self._validate_ml(X, y, reset=True)
        if classes.size < 1:
            raise InputError("y has no labels at all; a multi-label head needs at least one label.")
        if self._selects_on_validation():
            split = random_holdout(X.shape[0], self.validation_fraction, self.random_state)
            if split is not None:
                tr, va = split
                self._fit_select(X[tr], Y[tr], classes, (X[va], Y[va]))
        folds = []
        if self.threshold == "f1":
            folds = kfold_rows(X.shape[0], max(2, round(1.0 / self.validation_fraction)), self.random_state)
        oof = self._out_of_fold_logits(X, Y, classes, folds) if folds else None
        self._fit_core(X, Y, classes)
        self.classes_ = classes
        if oof is not None:
            self.thresholds_ = f1_thresholds(oof, Y)
        else:
            default = 0.0 if self.threshold == "f1" else float(self.threshold)
            self.thresholds_ = np.full(classes.size, default)
        return self

    def _out_of_fold_logits(
        self, X: np.ndarray, Y: np.ndarray, classes: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]
    ) -> np.ndarray:
        """Logits of every row from a copy fitted without its fold, with the chosen settings fixed."""
        out = np.empty(Y.shape, dtype=np.float64)
        for tr, te in folds:
            est = self._fold_copy()
            est._fit_core(X[tr], Y[tr], classes)
            out[te] = est._logits(X[te])
        return out

    def _fold_copy(self) -> MultiLabelHead:
        """An unfitted copy for one fold; heads that chose settings pass them on (and warm starts)."""
        return clone(self)

    def _selects_on_validation(self) -> bool:
        return False

    def _reset(self) -> None:
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, name)

    def tune_thresholds(self, X: Any, y: Any) -> Self:
        """Re-tune ``thresholds_`` for per-label F1 on validation rows ``(X, y)``."""
        z = self.logits(X)
        self.thresholds_ = f1_thresholds(z, self._known_targets(y, z.shape[0]), 0.0)
        return self

    # ---------------------------------------------------------------- predictions
    def predict_proba(self, X: Any) -> np.ndarray:
        """Per-label probabilities ``sigmoid(logits)``, shape ``(n, n_labels)``."""
        return expit(self.logits(X))

    def predict_log_proba(self, X: Any) -> np.ndarray:
        return -np.logaddexp(0.0, -self.logits(X))

    def decision_function(self, X: Any) -> np.ndarray:
        return self.logits(X)

    def predict(self, X: Any) -> np.ndarray:
        """0/1 indicator matrix ``(n, n_labels)`` over ``classes_``."""
        z = self.logits(X)
        if self.top_k is not None:
            return top_k_indicator(z, self.top_k)
        return (z >= self.thresholds_).astype(np.int64)

    def predict_labels(self, X: Any) -> list[list[Any]]:
        """Predicted labels of each row as lists of ``classes_`` entries."""
        P = self.predict(X)
        return [self.classes_[np.flatnonzero(r)].tolist() for r in P]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Micro-averaged F1 of :meth:`predict` against ``y`` (unknown entries ignored)."""
        check_is_fitted(self)
        P = self.predict(X).astype(np.float64)
        Y = self._known_targets(y, P.shape[0])
        known = ~np.isnan(Y)
        Yk = np.where(known, Y, 0.0)
        tp = float(np.sum(P * Yk * known))
        denom = float(np.sum(P * known) + np.sum(Yk))
        return 2.0 * tp / denom if denom > 0 else 1.0

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.estimator_type = None  # predictions are indicator matrices, not one label per row
        tags.classifier_tags = None
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        return tags
