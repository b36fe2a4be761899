"""AutoHead: pick the head with the best score on rows held out from the training data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np
from scipy.special import log_softmax

from ..exceptions import InputError
from ._base import BaseHead
from ._holdout import stratified_holdout
from ._io import _jsonable
from ._registry import get_head, get_head_class, name_of_head, register_head

__all__ = ["AutoHead"]

_SCORINGS = ("accuracy", "balanced_accuracy", "neg_log_loss")
_INNER = "best_estimator_"


def _score(head: BaseHead, X: np.ndarray, y: np.ndarray, scoring: str) -> float:
    """Higher is better. Every class has training rows, so ``y`` is in ``head.classes_``."""
    logits = head.logits(X)
    codes = np.searchsorted(head.classes_, y)
    if scoring == "neg_log_loss":
        return float(np.mean(log_softmax(logits, axis=1)[np.arange(y.size), codes]))
    hit = logits.argmax(axis=1) == codes
    if scoring == "accuracy":
        return float(hit.mean())
    present = np.unique(codes)
    return float(np.mean([hit[codes == c].mean() for c in present]))


@register_head("auto")
class AutoHead(BaseHead):
    """Fit several heads, keep the one that scores best on held-out training rows.

    A stratified ``validation_fraction`` of the training rows is held out (classes with a
    single row always stay in training), every candidate is fitted on the rest and scored on the
    held-out rows only, and the winner is refitted on all rows. Ties go to the earlier candidate,
    so list cheap heads first. If no row can be held out (every class has one row), nothing can
    be compared: the first candidate is used and every score is NaN.

    Parameters
    ----------
    candidates : sequence of str, default=("ncm", "lda", "ridge", "logistic")
        Registered head names (see :func:`headwise.heads.list_heads`).
    validation_fraction : float in (0, 1), default=0.15
    scoring : {"accuracy", "balanced_accuracy", "neg_log_loss"}, default="accuracy"
    random_state : int, RandomState or None, default=0
        Seeds the validation split.
    candidate_params : dict of str to dict, default=None
        Constructor parameters per candidate name, e.g. ``{"logistic": {"Cs": (0.01, 0.1)}}``.

    Attributes
    ----------
    best_name_ : str
    best_estimator_ : BaseHead
        The winner, refitted on all rows; ``logits`` delegates to it.
    scores_ : dict of str to float
        Validation score per candidate (higher is better).
    classes_ : ndarray of shape (n_classes,)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(3.0, 1.0, (20, 3)), rng.normal(-3.0, 1.0, (20, 3))]
    >>> head = AutoHead(candidates=("ncm", "lda")).fit(X, ["a"] * 20 + ["b"] * 20)
    >>> head.scores_, head.best_name_, head.predict([[2.0, 3.0, 4.0]]).tolist()
    ({'ncm': 1.0, 'lda': 1.0}, 'ncm', ['a'])
    """

    def __init__(
        self,
        candidates: Sequence[str] = ("ncm", "lda", "ridge", "logistic"),
        validation_fraction: float = 0.15,
        scoring: str = "accuracy",
        random_state: Any = 0,
        candidate_params: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.candidates = candidates
        self.validation_fraction = validation_fraction
        self.scoring = scoring
        self.random_state = random_state
        self.candidate_params = candidate_params

    def _check_params(self) -> list[str]:
        owner = type(self).__name__
        names = [self.candidates] if isinstance(self.candidates, str) else list(self.candidates)
        if not names or not all(isinstance(n, str) for n in names):
            raise InputError(
                f"The 'candidates' parameter of {owner} must be a non-empty sequence of head "
                f"names. Got {self.candidates!r} instead."
            )
        if len(set(names)) != len(names):
            raise InputError(
                f"The 'candidates' parameter of {owner} lists a head twice: {names}. To compare "
                "settings of one head, give that head a grid (e.g. logistic's Cs) instead."
            )
        for name in names:
            get_head_class(name)  # UnknownHeadError lists the registered names
        if "auto" in names:
            raise InputError(f"{owner} cannot be its own candidate; remove 'auto' from candidates.")
        frac = self.validation_fraction
        if isinstance(frac, bool) or not isinstance(frac, Real) or not 0 < frac < 1:
            raise InputError(
                f"The 'validation_fraction' parameter of {owner} must be a float in (0, 1). "
                f"Got {frac!r} instead."
            )
        if self.scoring not in _SCORINGS:
            raise InputError(
                f"The 'scoring' parameter of {owner} must be one of {_SCORINGS}. "
                f"Got {self.scoring!r} instead."
            )
        extra = set(self.candidate_params or {}) - set(names)
        if extra:
            raise InputError(
                f"candidate_params names {sorted(extra)}, which are not among the candidates "
                f"{names}. Add them to candidates or drop their parameters."
            )
        return names

    def _make(self, name: str) -> BaseHead:
        params = dict((self.candidate_params or {}).get(name, {}))
        head: BaseHead = get_head(name, **params)
        return head

    def fit(self, X: Any, y: Any) -> AutoHead:
        """Score every candidate on held-out rows, then refit the best on all of ``X``, ``y``."""
        names = self._check_params()
        X, y = self._validate_fit(X, y)
        self._require_two_classes(y)
        split = stratified_holdout(y, self.validation_fraction, self.random_state)
        self.scores_ = {name: float("nan") for name in names}
        best = names[0]
        if split is not None:
            tr, va = split
            for name in names:
                self.scores_[name] = _score(
                    self._make(name).fit(X[tr], y[tr]), X[va], y[va], self.scoring
                )
            # max keeps the first of equal scores
            best = max(names, key=lambda n: np.nan_to_num(self.scores_[n], nan=-np.inf))
        self.best_name_ = best
        self.best_estimator_ = self._make(best).fit(X, y)
        self.classes_ = self.best_estimator_.classes_
        return self

    def _logits(self, X: np.ndarray) -> np.ndarray:
        return self.best_estimator_._logits(X)

    # ---------------------------------------------------------------- persistence
    def _fitted_attributes(self) -> list[str]:
        return [k for k in super()._fitted_attributes() if k != _INNER]

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Own attributes, plus the winner's state under the prefix ``best_estimator_.``."""
        arrays, meta = super()._get_state()
        inner = self.best_estimator_
        inner_arrays, inner_meta = inner._get_state()
        arrays.update({f"{_INNER}.{k}": v for k, v in inner_arrays.items()})
        meta[_INNER] = {
            "kind": "head",
            "head": name_of_head(type(inner)),
            "params": _jsonable(inner.get_params(deep=False)),
            "state": inner_meta,
        }
        return arrays, meta

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        meta = dict(meta)
        info = meta.pop(_INNER)
        prefix = f"{_INNER}."
        inner = get_head_class(info["head"])(**info["params"])
        inner._set_state(
            {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}, info["state"]
        )
        super()._set_state({k: v for k, v in arrays.items() if not k.startswith(prefix)}, meta)
        self.best_estimator_ = inner
