"""Shell shared by the heads that are pure functions of :class:`SufficientStats`.

NCM, LDA, ridge and Gaussian naive Bayes keep ``stats_`` plus parameters derived from it.
``fit`` resets the statistics and then adds the rows, ``partial_fit`` adds rows and re-derives,
and ``fit_from_stats`` derives from statistics accumulated elsewhere (out of core, or merged
from several workers). Chunked ``partial_fit`` therefore equals ``fit`` by construction.

Classes that are known (through ``partial_fit(..., classes=...)`` or a merge) but have no rows
yet keep their column in ``classes_``; their logits are ``-inf``, so they are never predicted
and get probability 0 until rows arrive.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np

from ..exceptions import InputError
from ._base import BaseHead
from ._stats import SufficientStats, check_classes_arg

__all__ = ["StatsHead", "mask_empty_classes", "safe_class_means"]


def safe_class_means(stats: SufficientStats) -> np.ndarray:
    """Per-class means, with zero rows (instead of NaN) for classes that have no rows."""
    return stats.sums / np.maximum(stats.counts, 1.0)[:, None]


def mask_empty_classes(logits: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Set the logits of classes without rows to ``-inf`` (in place) and return them."""
    empty = counts <= 0
    if empty.any():
        logits[:, empty] = -np.inf
    return logits


class StatsHead(BaseHead):
    """A head whose fitted parameters are a pure function of ``stats_``.

    Subclasses implement ``_solve(stats, rows)``, which sets the derived fitted attributes, and
    ``_logits``. ``rows`` is ``(X, y)`` when called from ``fit`` (for batch-only extras such as
    LDA's Ledoit-Wolf shrinkage or ridge's held-out ``α`` choice) and ``None`` otherwise. Optional hooks: ``_check_params`` (validate constructor arguments) and
    ``_check_incremental`` (refuse settings that need the rows themselves).
    """

    # Which second-order statistics ``_solve`` reads (see :class:`SufficientStats`): heads that
    # need neither skip the O(n d²) Gram pass.
    _needs_gram: bool = True
    _needs_squares: bool = True

    def _empty_stats(self, n_features: int, classes: Any = ()) -> SufficientStats:
        return SufficientStats.empty(
            n_features, classes, gram=self._needs_gram, squares=self._needs_squares
        )

    # ---------------------------------------------------------------- hooks
    def _check_params(self) -> None:
        """Validate constructor arguments; raise :class:`InputError` with the expected values."""

    def _check_incremental(self, where: str) -> None:
        """Raise if the current settings cannot be derived from statistics alone."""

    def _solve(
        self, stats: SufficientStats, rows: tuple[np.ndarray, np.ndarray] | None = None
    ) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # ---------------------------------------------------------------- fitting
    def fit(self, X: Any, y: Any) -> Self:
        """Fit on embeddings ``X`` (n, d) and labels ``y`` (n,): reset, then add the rows."""
        self._check_params()
        X, y = self._validate_fit(X, y, reset=True)
        self._require_two_classes(y)
        self.stats_ = SufficientStats.from_data(
            X, y, gram=self._needs_gram, squares=self._needs_squares
        )
        self._refresh(rows=(X, y))
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> Self:
        """Add rows ``X``, ``y`` to the statistics and re-derive the parameters.

        ``classes`` may list labels that have no rows yet; they are carried with ``-inf``
        logits. New labels may also first appear in any later chunk; ``classes_`` stays sorted.
        Until a second class has rows the head predicts the one class it has seen.

        Every call re-derives the parameters (an ``O(d³)`` solve for LDA and ridge); for many
        small chunks, accumulate :class:`SufficientStats` and call :meth:`fit_from_stats` once.
        """
        self._check_params()
        self._check_incremental("partial_fit")
        first = not hasattr(self, "stats_")
        X, y = self._validate_fit(X, y, reset=first)
        if first:
            self.stats_ = self._empty_stats(X.shape[1])
        if classes is not None:
            extra = self._empty_stats(X.shape[1], check_classes_arg(classes))
            self.stats_ = self.stats_ + extra
        self.stats_.update(X, y)
        self._refresh()
        return self

    def fit_from_stats(self, stats: SufficientStats) -> Self:
        """Fit from statistics accumulated elsewhere (a streaming pass, merged workers).

        >>> from headwise.heads import SufficientStats
        >>> from headwise.heads._centroid import NCMHead
        >>> X = np.array([[0.0, 1.0], [0.0, 2.0], [1.0, 0.0], [2.0, 0.0]])
        >>> stats = SufficientStats.from_data(X, np.array([0, 0, 1, 1]))
        >>> NCMHead().fit_from_stats(stats).predict(np.array([[0.0, 5.0]])).tolist()
        [0]
        """
        if not isinstance(stats, SufficientStats):
            raise InputError(
                f"fit_from_stats expects a SufficientStats, got {type(stats).__name__}. "
                "Build one with SufficientStats.from_data or from_batches."
            )
        self._check_params()
        self._check_incremental("fit_from_stats")
        stats.require(gram=self._needs_gram, squares=self._needs_squares, head=type(self).__name__)
        present = int((stats.counts > 0).sum())
        if present < 2:
            raise InputError(
                f"The statistics hold rows of {present} class(es); a classifier needs at least "
                "two classes. Accumulate statistics over more of the data."
            )
        for name in ("n_features_in_", "feature_names_in_"):
            self.__dict__.pop(name, None)
        self.stats_ = stats.copy()
        self.n_features_in_ = stats.n_features
        self._refresh()
        return self

    def _refresh(self, rows: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.classes_ = self.stats_.classes.copy()
        self._solve(self.stats_, rows)
