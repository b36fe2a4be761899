"""Post-hoc logit adjustment for long-tailed training data (Menon et al., 2021).

A head fitted on long-tailed rows learns the skewed class prior ``π``; subtracting ``τ·log π_c``
from its logits moves the decision towards the balanced (per-class average) error. ``τ`` is
chosen on a class-balanced held-out split; ``τ = 0`` leaves the head unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
from sklearn.utils import check_random_state

from .._validation import check_param_float, check_param_grid
from ..exceptions import InputError
from ._base import BaseHead
from ._registry import get_head, register_head

__all__ = ["LogitAdjustedHead", "adjust_logits", "balanced_accuracy", "balanced_holdout"]

_DEFAULT_TAUS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


def adjust_logits(logits: np.ndarray, log_prior: np.ndarray, tau: float) -> np.ndarray:
    """``f_c(x) - τ·log π_c``.

    >>> adjust_logits(np.zeros((1, 2)), np.log([0.9, 0.1]), 1.0).round(3).tolist()
    [[0.105, 2.303]]
    """
    return np.asarray(logits, dtype=np.float64) - float(tau) * np.asarray(log_prior)


def balanced_accuracy(pred: np.ndarray, codes: np.ndarray, n_classes: int) -> float:
    """Mean per-class recall over the classes present in ``codes``."""
    hits = np.bincount(codes[pred == codes], minlength=n_classes)
    counts = np.bincount(codes, minlength=n_classes)
    present = counts > 0
    return float(np.mean(hits[present] / counts[present]))


def balanced_holdout(
    codes: np.ndarray, fraction: float, random_state: Any = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """``(train, validation)`` with the same number of validation rows from every class.

    Each class gives ``m = ceil(fraction · n / K)`` rows, or fewer when it has fewer (every
    class keeps at least one training row). ``None`` when nothing can be held out.
    """
    rng = check_random_state(random_state)
    K = int(codes.max()) + 1 if codes.size else 0
    m = int(np.ceil(fraction * codes.size / max(K, 1)))
    val: list[np.ndarray] = []
    for c in range(K):
        rows = np.flatnonzero(codes == c)
        take = min(m, rows.size - 1)
        if take > 0:
            val.append(rng.choice(rows, size=take, replace=False))
    if not val:
        return None
    v = np.sort(np.concatenate(val))
    mask = np.ones(codes.size, dtype=bool)
    mask[v] = False
    return np.flatnonzero(mask), v


@register_head("logitadjust")
class LogitAdjustedHead(BaseHead):
    """Any head with post-hoc logit adjustment ``f_c(x) - τ·log π_c`` for long-tailed data.

    ``fit`` holds out a class-balanced split (the same number of rows per class), fits the base
    head on the rest, picks the ``τ`` in ``taus`` with the best balanced accuracy on the held-out
    rows (ties: the smaller ``τ``), then refits the base head on all rows; ``π`` is the class
    frequency of the training rows. With ``tau`` given, no split is made.

    Parameters
    ----------
    base : str, default="logistic"
        Registry name of the head to adjust.
    base_params : dict or None, default=None
        Parameters of the base head.
    taus : sequence of float >= 0, default=(0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2)
    tau : float >= 0 or None, default=None
        A fixed ``τ`` (``0``: exactly the base head).
    validation_fraction : float in (0, 1), default=0.2
    random_state : int, RandomState or None, default=0

    Attributes
    ----------
    base_ : the fitted base head
    classes_, tau_, log_prior_ (n_classes,), tau_scores_ (balanced accuracy per ``τ``)

    Examples
    --------
    >>> X = np.r_[np.zeros((9, 1)), np.ones((1, 1))] + np.arange(10)[:, None] * 0.01
    >>> head = LogitAdjustedHead(base="lda", tau=1.0).fit(X, [0] * 9 + [1])
    >>> head.tau_, head.classes_.tolist()
    (1.0, [0, 1])
    """

    def __init__(
        self,
        base: str = "logistic",
        base_params: dict[str, Any] | None = None,
        taus: Sequence[float] = _DEFAULT_TAUS,
        tau: float | None = None,
        validation_fraction: float = 0.2,
        random_state: Any = 0,
    ) -> None:
        self.base = base
        self.base_params = base_params
        self.taus = taus
        self.tau = tau
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def _grid(self) -> np.ndarray:
        taus = check_param_grid(self.taus, self.tau, "LogitAdjustedHead", ("taus", "tau"), zero_ok=True)
        check_param_float(self.validation_fraction, "validation_fraction", "LogitAdjustedHead", 0, 1, low_open=True)
        return taus

    def _new_base(self) -> Any:
        if self.base == "logitadjust":
            raise InputError("LogitAdjustedHead cannot adjust itself; pick another base head.")
        return get_head(self.base, **(self.base_params or {}))

    def fit(self, X: Any, y: Any) -> Self:
        """Fit the base head and choose ``τ``; see the class docstring."""
        taus = self._grid()
        X, y = self._validate_fit(X, y)
        self._require_two_classes(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        K = self.classes_.size
        counts = np.bincount(codes, minlength=K).astype(np.float64)
        self.tau_scores_ = np.full(taus.size, np.nan)
        split = balanced_holdout(codes, self.validation_fraction, self.random_state) if taus.size > 1 else None
        if split is not None and np.unique(codes[split[0]]).size == K:
            tr, va = split
            part = self._new_base().fit(X[tr], y[tr])
            z = part.logits(X[va])
            part_prior = np.log(np.bincount(codes[tr], minlength=K) / tr.size)
            for i, t in enumerate(taus):
                pred = np.argmax(adjust_logits(z, part_prior, t), axis=1)
                self.tau_scores_[i] = balanced_accuracy(pred, codes[va], K)
            self.tau_ = float(taus[int(np.argmax(self.tau_scores_))])  # first max: smaller τ
        else:
            self.tau_ = float(taus[0] if self.tau is not None else 1.0 if 1.0 in taus else taus[0])
        self.base_ = self._new_base().fit(X, y)
        self.log_prior_ = np.log(counts / counts.sum())
        return self

    def _logits(self, X: np.ndarray) -> np.ndarray:
        return adjust_logits(self.base_.logits(X), self.log_prior_, self.tau_)
