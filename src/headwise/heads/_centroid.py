"""Nearest class mean (NCM) head: one centroid per class, cosine or euclidean scores."""

from __future__ import annotations

import numpy as np

from .._validation import check_param_choice
from ._registry import register_head
from ._stats import SufficientStats
from ._stats_head import StatsHead, mask_empty_classes, safe_class_means

__all__ = ["NCMHead", "ncm_logits", "solve_ncm"]

_METRICS = ("cosine", "euclidean")


def _l2_normalize(A: np.ndarray) -> np.ndarray:
    """Rows divided by their L2 norm; all-zero rows stay zero."""
    norms = np.linalg.norm(A, axis=1, keepdims=True)
    return A / np.where(norms > 0, norms, 1.0)


def solve_ncm(stats: SufficientStats) -> np.ndarray:
    """Class centroids (the means of the raw rows), shape (C, d); zero rows for empty classes."""
    return safe_class_means(stats)


def ncm_logits(X: np.ndarray, centroids: np.ndarray, metric: str) -> np.ndarray:
    """Scores of rows ``X`` against ``centroids``.

    ``"cosine"``: cosine similarity of the L2-normalised row with the L2-normalised centroid.
    ``"euclidean"``: ``-||x - μ_c||² / 2``, so the softmax is a Gaussian posterior with identity
    covariance and equal priors, and the argmax is the nearest centroid.
    """
    X = np.asarray(X, dtype=np.float64)
    if metric == "cosine":
        return _l2_normalize(X) @ _l2_normalize(centroids).T
    sq_x = np.einsum("ij,ij->i", X, X)[:, None]
    sq_c = np.einsum("ij,ij->i", centroids, centroids)[None, :]
    return -0.5 * np.maximum(sq_x - 2.0 * (X @ centroids.T) + sq_c, 0.0)


@register_head("ncm")
class NCMHead(StatsHead):
    """Nearest class mean classifier on frozen embeddings.

    The centroid of a class is the mean of its raw embeddings (not of the normalised ones); with
    ``metric="cosine"`` that mean is L2-normalised afterwards, as are the rows being scored, and
    the logits are cosine similarities in [-1, 1]. With ``metric="euclidean"`` the logits are
    ``-squared distance / 2`` and the predictions equal sklearn's ``NearestCentroid``.

    Parameters
    ----------
    metric : {"cosine", "euclidean"}, default="cosine"
        How rows are compared with the class centroids.

    Attributes
    ----------
    stats_ : SufficientStats
        Counts, sums and moments of every row seen; the centroids are derived from them.
    centroids_ : ndarray of shape (n_classes, n_features)
        Class means, rows in ``classes_`` order (zeros for a class with no rows yet).
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels.

    Examples
    --------
    >>> X = np.array([[1.0, 0.1], [0.9, 0.0], [0.0, 1.0], [0.1, 0.8]])
    >>> head = NCMHead().fit(X, ["cat", "cat", "dog", "dog"])
    >>> head.predict(np.array([[0.2, 0.9]])).tolist()
    ['dog']
    """

    _needs_gram = False  # class sums only: one O(n d) pass
    _needs_squares = False

    def __init__(self, metric: str = "cosine") -> None:
        self.metric = metric

    def _check_params(self) -> None:
        check_param_choice(self.metric, "metric", "NCMHead", _METRICS)

    def _solve(
        self, stats: SufficientStats, rows: tuple[np.ndarray, np.ndarray] | None = None
    ) -> None:
        self.centroids_ = solve_ncm(stats)

    def _logits(self, X: np.ndarray) -> np.ndarray:
        self._check_params()  # a metric set after fit was read as euclidean, whatever it said
        z = ncm_logits(X, self.centroids_, self.metric)
        return mask_empty_classes(z, self.stats_.counts)
