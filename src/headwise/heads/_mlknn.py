"""k-nearest-neighbour head for multi-label targets: each label's smoothed neighbour vote."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_param_choice, check_param_float, check_param_int
from ._knn import _WEIGHTS, _normalize_rows, knn_neighbours
from ._mlbase import MultiLabelHead
from ._registry import register_head

__all__ = ["MultiLabelKNNHead", "knn_label_votes"]


def knn_label_votes(
    queries: np.ndarray,
    train: np.ndarray,
    Y: np.ndarray,
    *,
    n_neighbors: int,
    weights: str,
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted votes ``(positive, known)`` per (query, label) from the ``k`` nearest rows.

    ``queries``/``train`` are L2-normalised float32 rows (cosine distance ``1 - q·t``); ``Y`` is
    0/1 with NaN for unknown entries, which add to neither count. Weights as in
    :func:`headwise.heads._knn.knn_vote_fractions`.
    """
    known = (~np.isnan(Y)).astype(np.float64)
    pos = np.nan_to_num(Y).astype(np.float64)
    out_pos = np.zeros((queries.shape[0], Y.shape[1]))
    out_known = np.zeros_like(out_pos)
    for start, idx, w in knn_neighbours(
        queries, train, n_neighbors=n_neighbors, weights=weights, batch_size=batch_size
    ):
        stop = start + idx.shape[0]
        out_pos[start:stop] = np.einsum("bk,bkl->bl", w, pos[idx])
        out_known[start:stop] = np.einsum("bk,bkl->bl", w, known[idx])
    return out_pos, out_known


@register_head("mlknn")
class MultiLabelKNNHead(MultiLabelHead):
    """Multi-label kNN: a label's probability is its weighted vote among the ``k`` nearest rows.

    ``p_l = (votes_l + s·π_l) / (known votes_l + s)`` with ``π_l`` the label's training frequency
    and ``s = smoothing`` (in units of the mean neighbour weight), so labels the neighbours do not
    know fall back to the prior; logits are ``log(p / (1 - p))``. Unknown entries are not votes.

    Parameters
    ----------
    n_neighbors : int, default=10
    weights : {"distance", "uniform"}, default="distance"
    smoothing : float >= 0, default=1.0
    threshold : "f1" or float, default="f1"
    top_k : int or None, default=None
    validation_fraction : float in (0, 1), default=0.1
    batch_size : int, default=2048
    random_state : int, RandomState or None, default=0

    Examples
    --------
    >>> X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> head = MultiLabelKNNHead(n_neighbors=2, threshold=0.0).fit(X, [["a"], ["a", "b"], ["b"], ["b"]])
    >>> head.predict_labels(np.array([[0.1, 1.0]]))
    [['b']]
    """

    def __init__(
        self,
        n_neighbors: int = 10,
        weights: str = "distance",
        smoothing: float = 1.0,
        threshold: float | str = "f1",
        top_k: int | None = None,
        validation_fraction: float = 0.1,
        batch_size: int = 2048,
        random_state: Any = 0,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.smoothing = smoothing
        self.threshold = threshold
        self.top_k = top_k
        self.validation_fraction = validation_fraction
        self.batch_size = batch_size
        self.random_state = random_state

    def _check_params(self) -> None:
        for name in ("n_neighbors", "batch_size"):
            check_param_int(getattr(self, name), name, "MultiLabelKNNHead")
        check_param_choice(self.weights, "weights", "MultiLabelKNNHead", _WEIGHTS)
        check_param_float(self.smoothing, "smoothing", "MultiLabelKNNHead", 0.0)

    def _fit_core(self, X: np.ndarray, Y: np.ndarray, classes: np.ndarray) -> None:
        self._check_params()
        self.train_embeddings_ = _normalize_rows(X)
        self.train_targets_ = Y.astype(np.float32)
        known = ~np.isnan(Y)
        self.label_prior_ = (np.nansum(Y, axis=0) + 0.5) / (known.sum(axis=0) + 1.0)

    def _logits(self, X: np.ndarray) -> np.ndarray:
        pos, known = knn_label_votes(
            _normalize_rows(X), self.train_embeddings_, self.train_targets_,
            n_neighbors=self.n_neighbors, weights=self.weights, batch_size=self.batch_size,
        )  # fmt: skip
        total = known.max(axis=1, keepdims=True)
        mean_w = np.where(total > 0, total / min(self.n_neighbors, self.train_targets_.shape[0]), 1.0)
        s = float(self.smoothing) * mean_w
        p = (pos + s * self.label_prior_) / np.maximum(known + s, 1e-300)
        p = np.clip(p, 1e-9, 1.0 - 1e-9)
        return np.log(p) - np.log1p(-p)
