"""Linear SVM head: sklearn's LinearSVC (liblinear) with C chosen on held-out rows."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC

from .._validation import check_param_float, check_param_grid, check_param_int
from ._base import BaseHead
from ._holdout import stratified_holdout
from ._registry import register_head

__all__ = ["LinearSVMHead"]


def _fit_svc(X: np.ndarray, y: np.ndarray, C: float, max_iter: int, seed: Any) -> LinearSVC:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # reported via n_iter_ instead
        return LinearSVC(C=C, max_iter=max_iter, random_state=seed).fit(X, y)


@register_head("svm")
class LinearSVMHead(BaseHead):
    """One-vs-rest linear SVM (squared hinge, L2 penalty), a thin shell around ``LinearSVC``.

    With ``C=None`` a stratified ``validation_fraction`` of the rows is held out, the ``C`` in
    ``Cs`` with the best held-out accuracy wins (ties: the smaller ``C``), and the SVM is refitted
    on all rows. Logits are the SVM margins; for two classes they are ``[-m/2, m/2]`` so that
    ``decision_function`` equals ``LinearSVC``'s.

    Parameters
    ----------
    Cs : sequence of float > 0, default=(0.01, 0.1, 1.0, 10.0)
    C : float > 0 or None, default=None
    validation_fraction : float in (0, 1), default=0.1
    max_iter : int, default=2000
    random_state : int, RandomState or None, default=0

    Attributes
    ----------
    classes_, coef_ (n_classes, n_features), intercept_ (n_classes,), C_, val_scores_, n_iter_

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [1.0, 1.0], [0.9, 1.0]])
    >>> LinearSVMHead(C=1.0).fit(X, [0, 0, 1, 1]).predict([[1.0, 0.9]]).tolist()
    [1]
    """

    def __init__(
        self,
        Cs: Sequence[float] = (0.01, 0.1, 1.0, 10.0),
        C: float | None = None,
        validation_fraction: float = 0.1,
        max_iter: int = 2000,
        random_state: Any = 0,
    ) -> None:
        self.Cs = Cs
        self.C = C
        self.validation_fraction = validation_fraction
        self.max_iter = max_iter
        self.random_state = random_state

    def _grid(self) -> np.ndarray:
        Cs = check_param_grid(self.Cs, self.C, "LinearSVMHead")
        check_param_int(self.max_iter, "max_iter", "LinearSVMHead")
        check_param_float(self.validation_fraction, "validation_fraction", "LinearSVMHead", 0, 1, low_open=True)
        return Cs

    def fit(self, X: Any, y: Any) -> Self:
        """Fit on embeddings ``X`` (n, d) and labels ``y``; see the class docstring."""
        Cs = self._grid()
        X, y = self._validate_fit(X, y)
        self._require_two_classes(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        self.val_scores_ = np.full(Cs.size, np.nan)
        split = stratified_holdout(codes, self.validation_fraction, self.random_state) if Cs.size > 1 else None
        if split is not None and np.unique(codes[split[0]]).size == self.classes_.size:
            tr, va = split
            for i, C in enumerate(Cs):
                svc = _fit_svc(X[tr], codes[tr], float(C), self.max_iter, self.random_state)
                self.val_scores_[i] = float(np.mean(svc.predict(X[va]) == codes[va]))
            self.C_ = float(Cs[int(np.argmax(self.val_scores_))])
        else:
            self.C_ = float(Cs[(Cs.size - 1) // 2])
        svc = _fit_svc(X, codes, self.C_, self.max_iter, self.random_state)
        coef, intercept = svc.coef_.astype(np.float64), svc.intercept_.astype(np.float64)
        if self.classes_.size == 2:
            coef, intercept = np.r_[-coef, coef] / 2.0, np.r_[-intercept, intercept] / 2.0
        self.coef_, self.intercept_ = coef, intercept
        self.n_iter_ = int(np.max(svc.n_iter_))
        return self

    def _logits(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_
