"""Multi-output ridge for multi-label targets, closed form from mergeable statistics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np
from scipy import linalg

from ..exceptions import InputError
from ._mlbase import MultiLabelHead
from ._mlstats import MultiLabelStats
from ._registry import register_head
from ._ridge import _DEFAULT_ALPHAS, RidgePath, gcv_scores, select_alpha

__all__ = ["MultiLabelRidgeHead", "multilabel_ridge_paths"]


def _path(n: float, x_sum: np.ndarray, gram: np.ndarray, xt: np.ndarray, t_sum: np.ndarray,
          t_sq: np.ndarray) -> RidgePath:  # fmt: skip
    """The centred ridge problem of targets ``T`` (columns of ``xt``) in ``A``'s eigenbasis."""
    x_mean = x_sum / n
    A = gram - np.outer(x_sum, x_sum) / n
    B = xt - np.outer(x_mean, t_sum)
    evals, evecs = linalg.eigh(A, check_finite=False, driver="evd")
    y_sq = float(np.sum(t_sq - t_sum**2 / n))
    return RidgePath(np.maximum(evals, 0.0), evecs, evecs.T @ B, y_sq, x_mean, t_sum / n, n)


def multilabel_ridge_paths(stats: MultiLabelStats) -> list[tuple[np.ndarray, RidgePath]]:
    """``(label positions, path)`` groups: one shared path for the labels known on every row,
    one per label with unknown entries (its regression uses its known rows only)."""
    out: list[tuple[np.ndarray, RidgePath]] = []
    full = np.flatnonzero(stats.fully_known() & (stats.n_known > 0))
    if full.size:
        n = stats.n
        out.append((full, _path(n, stats.x_sum, stats.gram, stats.xt[:, full],
                                stats.t_sum[full], np.full(full.size, n))))  # fmt: skip
    for j in np.flatnonzero(~stats.fully_known() & (stats.n_known > 0)):
        n, xs, G, xt, ts, tq = stats.label_system(int(j))
        out.append((np.array([j]), _path(n, xs, G, xt[:, None], np.array([ts]), np.array([tq]))))
    return out


@register_head("mlridge")
class MultiLabelRidgeHead(MultiLabelHead):
    """Multi-label ridge: one ridge regression per label on ±1 targets, all from one statistic.

    The statistics (``Σx``, ``Σxxᵀ``, ``Σx tᵀ``, ...) are additive, so :meth:`partial_fit` gives
    exactly the coefficients of a batch :meth:`fit` on all rows seen, new labels included (earlier
    rows count as negatives for a label first seen later). Labels known on every row share one
    eigendecomposition; a label with unknown entries (``-1``/``NaN`` in an indicator matrix) is
    fitted on its known rows only. ``alpha`` is chosen by generalised cross-validation summed over
    labels (exact from the statistics). Logits are the regression outputs (0 = undecided).

    Parameters
    ----------
    alphas : sequence of float > 0, default=np.logspace(-3, 3, 13)
    threshold : "f1" or float, default="f1"
        ``"f1"``: per-label thresholds tuned for F1 in :meth:`fit` on out-of-fold logits, each
        fold holding out ``validation_fraction`` of the rows (see :class:`MultiLabelHead`). A
        float: one fixed logit threshold for every label. :meth:`partial_fit` keeps the thresholds it has (0 at first).
    top_k : int or None, default=None
        Predict the ``k`` best labels per row instead of thresholding.
    validation_fraction : float in (0, 1), default=0.1
    random_state : int, RandomState or None, default=0

    Attributes
    ----------
    stats_ : MultiLabelStats
    classes_ : ndarray of shape (n_labels,)
    coef_ : ndarray of shape (n_labels, n_features)
    intercept_ : ndarray of shape (n_labels,)
    alpha_ : float
    alpha_scores_ : ndarray of shape (n_alphas,)  (summed GCV, lower is better)
    thresholds_ : ndarray of shape (n_labels,)

    Examples
    --------
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.1, 0.1]])
    >>> head = MultiLabelRidgeHead(alphas=(0.01,), threshold=0.0).fit(X, [["a"], ["b"], ["a", "b"], []])
    >>> head.predict_labels(np.array([[1.0, 1.0]]))
    [['a', 'b']]
    """

    def __init__(
        self,
        alphas: Sequence[float] = _DEFAULT_ALPHAS,
        threshold: float | str = "f1",
        top_k: int | None = None,
        validation_fraction: float = 0.1,
        random_state: Any = 0,
    ) -> None:
        self.alphas = alphas
        self.threshold = threshold
        self.top_k = top_k
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def _alphas(self) -> np.ndarray:
        try:
            a = np.atleast_1d(np.asarray(self.alphas, dtype=np.float64))
        except (TypeError, ValueError):
            a = np.array([np.nan])
        if a.ndim != 1 or a.size == 0 or not np.isfinite(a).all() or (a <= 0).any():
            raise InputError(
                "The 'alphas' parameter of MultiLabelRidgeHead must be a non-empty sequence of "
                f"floats in the range (0, inf). Got {self.alphas!r} instead."
            )
        return a

    def _fit_core(self, X: np.ndarray, Y: np.ndarray, classes: np.ndarray) -> None:
        self.stats_ = MultiLabelStats.from_data(X, Y, classes)
        self._solve()

    def partial_fit(self, X: Any, y: Any) -> Self:
        """Add rows to the statistics and re-solve; equals :meth:`fit` on all rows seen."""
        self._check_ml_params()
        first = not hasattr(self, "stats_")
        X, Y, classes = self._validate_ml(X, y, reset=first)
        if first:
            self.stats_ = MultiLabelStats.empty(X.shape[1])
        self.stats_.update(X, Y, classes)
        old = getattr(self, "thresholds_", None)
        old_classes = getattr(self, "classes_", None)
        self.classes_ = self.stats_.classes
        thr = np.full(self.classes_.size, 0.0 if self.threshold == "f1" else float(self.threshold))
        if old is not None and old_classes is not None and old_classes.size:
            thr[np.searchsorted(self.classes_, old_classes)] = old
        self.thresholds_ = thr
        self._solve()
        return self

    def _solve(self) -> None:
        alphas = self._alphas()
        stats = self.stats_
        groups = multilabel_ridge_paths(stats)
        scores = np.zeros(alphas.size)
        for _, path in groups:
            scores += gcv_scores(path, alphas)
        best = select_alpha(alphas, scores, higher_is_better=False)
        self.alpha_, self.alpha_scores_ = float(alphas[best]), scores
        L, d = stats.classes.size, stats.n_features
        coef, intercept = np.zeros((L, d)), np.zeros(L)
        for pos, path in groups:
            W = path.coef(self.alpha_)
            coef[pos] = W.T
            intercept[pos] = path.intercept(W)
        self.coef_, self.intercept_ = coef, intercept

    def _logits(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_

    # ---------------------------------------------------------------- persistence
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        stats = self.__dict__.pop("stats_")
        try:
            arrays, meta = super()._get_state()
        finally:
            self.stats_ = stats
        a, m = stats.to_arrays(prefix="stats_.")
        arrays.update(a)
        meta["stats_"] = {"kind": "mlstats", "meta": m}
        return arrays, meta

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        info = meta.pop("stats_")
        super()._set_state(arrays, meta)
        self.stats_ = MultiLabelStats.from_arrays(arrays, info["meta"], prefix="stats_.")
