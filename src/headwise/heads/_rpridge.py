"""Random-projection ridge head (RanPAC): fixed seeded ReLU projection, ridge on its statistics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np

from .._validation import check_param_int
from ..exceptions import InputError
from ._registry import register_head
from ._ridge import _DEFAULT_ALPHAS, RidgeHead
from ._stats import SufficientStats, check_classes_arg

__all__ = ["RandomProjectionRidgeHead", "relu_projection"]


def relu_projection(n_features: int, n_components: int, random_state: Any) -> np.ndarray:
    """The fixed projection ``W`` of shape (n_features, n_components), entries ``N(0, 1/d)``.

    Drawn from ``np.random.default_rng(random_state)`` when ``random_state`` is an int, so the
    same seed and width always give the same features.
    """
    if isinstance(random_state, np.random.RandomState):
        draw = random_state.standard_normal((n_features, n_components))
    else:
        draw = np.random.default_rng(random_state).standard_normal((n_features, n_components))
    return draw / np.sqrt(n_features)


@register_head("rpridge")
class RandomProjectionRidgeHead(RidgeHead):
    """Ridge on ``h = ReLU(x W)``, a fixed random projection to ``n_components`` dimensions.

    As in RanPAC (McDonnell et al., NeurIPS 2023): the projection lifts the frozen embeddings
    into a wider, nonlinear space where classes are closer to linearly separable; the ridge
    classifier is then solved from the sufficient statistics of ``h`` (Gram matrix and class
    sums), so ``partial_fit`` is exact, new classes included, and needs no stored examples.

    Parameters
    ----------
    n_components : int >= 1, default=2048
        Width ``M`` of the projection (RanPAC uses 10000; cost is ``O(M³)`` per solve).
    alphas, alpha_selection, validation_fraction, fit_intercept
        As :class:`RidgeHead`, applied to ``h``.
    random_state : int, default=0
        Seeds the projection (and the validation split of ``alpha_selection="val"``).

    Attributes
    ----------
    projection_ : ndarray of shape (n_features, n_components)
    stats_ : SufficientStats over the projected features
    coef_ : ndarray of shape (n_classes, n_components)

    Examples
    --------
    >>> X = np.array([[0.0, 1.0], [0.1, 0.9], [1.0, 0.0], [0.9, 0.2]])
    >>> h = RandomProjectionRidgeHead(n_components=64).fit(X, [0, 0, 1, 1])
    >>> h.predict(np.array([[1.0, 0.1]])).tolist()
    [1]
    """

    def __init__(
        self,
        n_components: int = 2048,
        alphas: Sequence[float] = _DEFAULT_ALPHAS,
        alpha_selection: str = "gcv",
        validation_fraction: float = 0.1,
        fit_intercept: bool = True,
        random_state: Any = 0,
    ) -> None:
        self.n_components = n_components
        super().__init__(alphas, alpha_selection, validation_fraction, fit_intercept, random_state)

    def _check_params(self) -> None:
        check_param_int(self.n_components, "n_components", "RandomProjectionRidgeHead")
        super()._check_params()

    def _project(self, X: np.ndarray) -> np.ndarray:
        return np.maximum(np.asarray(X, dtype=np.float64) @ self.projection_, 0.0)

    def fit(self, X: Any, y: Any) -> Self:
        """Fit on embeddings ``X`` and labels ``y``: reset, project, accumulate, solve."""
        self._check_params()
        X, y = self._validate_fit(X, y, reset=True)
        self._require_two_classes(y)
        self.projection_ = relu_projection(X.shape[1], int(self.n_components), self.random_state)
        H = self._project(X)
        self.stats_ = SufficientStats.from_data(H, y, gram=True, squares=False)
        self._refresh(rows=(H, y))
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> Self:
        """Add rows (new classes allowed) to the projected statistics and re-solve; exact."""
        self._check_params()
        first = not hasattr(self, "stats_")
        X, y = self._validate_fit(X, y, reset=first)
        if first:
            self.projection_ = relu_projection(
                X.shape[1], int(self.n_components), self.random_state
            )
            self.stats_ = self._empty_stats(int(self.n_components))
        if classes is not None:
            extra = self._empty_stats(int(self.n_components), check_classes_arg(classes))
            self.stats_ = self.stats_ + extra
        self.stats_.update(self._project(X), y)
        self._refresh()
        return self

    def fit_from_stats(self, stats: SufficientStats) -> Self:
        raise InputError(
            "RandomProjectionRidgeHead is fitted from statistics of its own projected features; "
            "use fit or partial_fit (which accumulate them), or fit_from_projected_stats with "
            "statistics of project(X), instead of fit_from_stats."
        )

    def projection(self, n_features: int) -> np.ndarray:
        """The fixed projection ``W`` this head uses for ``n_features``-dimensional inputs.

        Statistics of ``ReLU(X @ W)`` accumulated elsewhere (on several workers) and merged
        fit the head through :meth:`fit_from_projected_stats`.
        """
        self._check_params()
        return relu_projection(int(n_features), int(self.n_components), self.random_state)

    def fit_from_projected_stats(self, stats: SufficientStats, n_features: int) -> Self:
        """Fit from statistics of ``ReLU(X @ self.projection(n_features))`` and labels.

        Equals :meth:`fit` on the same rows (``alpha_selection="gcv"``) up to rounding.
        """
        self._check_params()
        if self.alpha_selection == "val":
            raise InputError(
                "alpha_selection='val' holds out rows, which statistics alone cannot do; use "
                "alpha_selection='gcv' (the default) to fit from statistics."
            )
        if stats.n_features != int(self.n_components):
            raise InputError(
                f"The statistics hold {stats.n_features} features, but this head projects to "
                f"n_components={self.n_components}; accumulate them over ReLU(X @ projection)."
            )
        W = self.projection(n_features)
        super(RidgeHead, self).fit_from_stats(stats)  # StatsHead's, which this class refuses
        self.projection_ = W
        self.n_features_in_ = int(n_features)
        return self

    def _logits(self, X: np.ndarray) -> np.ndarray:
        return super()._logits(self._project(X))
