"""k-nearest-neighbour head: cosine similarity by chunked matrix products, no index."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Self

import numpy as np

from .._validation import check_param_choice, check_param_int
from ._base import BaseHead
from ._registry import register_head
from ._stats import check_classes_arg, class_union

__all__ = ["KNNHead", "knn_neighbours", "knn_vote_fractions", "neighbour_weights"]

_WEIGHTS = ("distance", "uniform")
_METRICS = ("cosine",)
_BLOCK_ELEMENTS = 1 << 24  # at most 64 MiB of float32 similarities per query chunk
_EXACT_MATCH = 4 * float(np.finfo(np.float32).eps)  # cosine distances below this count as 0
_LOG_FLOOR = 1e-9


def _normalize_rows(X: np.ndarray) -> np.ndarray:
    """Rows divided by their L2 norm (computed in the input precision), as float32."""
    X = np.asarray(X)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return (X / np.where(norms > 0, norms, 1.0)).astype(np.float32, copy=False)


def neighbour_weights(dist: np.ndarray, weights: str) -> np.ndarray:
    """Vote weights of neighbours at cosine distances ``dist`` (q, k): all ones for
    ``"uniform"``; ``1 / distance`` for ``"distance"``, where a row with an exact match (distance
    below float32 resolution) gives its exact matches weight 1 and every other neighbour 0."""
    if weights == "uniform":
        return np.ones_like(dist)
    exact = dist < _EXACT_MATCH
    with np.errstate(divide="ignore"):
        w = 1.0 / dist
    has_exact = exact.any(axis=1)
    w[has_exact] = exact[has_exact]
    return w


def knn_neighbours(
    queries: np.ndarray, train: np.ndarray, *, n_neighbors: int, weights: str, batch_size: int
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """``(start, idx, w)`` per chunk of queries: the ``k`` nearest training rows of each query
    (cosine, ``1 - q·t`` on L2-normalised float32 rows) and their vote weights.

    With ``weights="distance"`` a neighbour counts ``1/distance``; a query with exact matches
    (distance below float32 resolution) counts only those, as sklearn does. Chunks hold at most
    ``_BLOCK_ELEMENTS`` similarities, so memory stays bounded whatever the number of queries.
    """
    n_train = train.shape[0]
    k = min(int(n_neighbors), n_train)
    step = max(1, min(int(batch_size), _BLOCK_ELEMENTS // max(n_train, 1)))
    for start in range(0, queries.shape[0], step):
        q = queries[start : start + step]
        sims = q @ train.T  # (b, n_train) float32
        if k < n_train:
            idx = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        else:
            idx = np.broadcast_to(np.arange(n_train), (q.shape[0], n_train))
        dist = np.maximum(1.0 - np.take_along_axis(sims, idx, axis=1).astype(np.float64), 0.0)
        yield start, idx, neighbour_weights(dist, weights)


def vote_fractions_per_k(
    sims: np.ndarray, codes: np.ndarray, n_classes: int, ks: Sequence[int], weights: str
) -> list[np.ndarray]:
    """Weighted neighbour votes per class (q, n_classes), one array per ``k``, from the
    similarities ``sims`` (q, n) of queries to rows labelled ``codes`` (n,): one partial sort
    for the largest ``k`` (at most ``n``); each smaller ``k`` reads its first columns. Rows
    whose similarity is ``-inf`` (a query's own row in leave-one-out) come last."""
    q, n = sims.shape
    k_max = min(max(int(k) for k in ks), n)
    idx = np.argpartition(-sims, k_max - 1, axis=1)[:, :k_max]
    top = np.take_along_axis(sims, idx, axis=1)
    order = np.argsort(-top, axis=1, kind="stable")
    idx = np.take_along_axis(idx, order, axis=1)
    dist = np.maximum(1.0 - np.take_along_axis(top, order, axis=1).astype(np.float64), 0.0)
    neighbour_codes = codes[idx]
    outs = []
    for k in ks:
        kk = min(int(k), k_max)
        w = neighbour_weights(dist[:, :kk], weights)
        flat = (np.arange(q)[:, None] * n_classes + neighbour_codes[:, :kk]).ravel()
        votes = np.bincount(flat, weights=w.ravel(), minlength=q * n_classes)
        votes = votes.reshape(q, n_classes)
        outs.append(votes / votes.sum(axis=1, keepdims=True))
    return outs


def knn_vote_fractions(
    queries: np.ndarray,
    train: np.ndarray,
    codes: np.ndarray,
    n_classes: int,
    *,
    n_neighbors: int,
    weights: str,
    batch_size: int,
) -> np.ndarray:
    """Weighted neighbour vote per class, shape (n, n_classes), each row summing to one.

    ``queries`` and ``train`` are L2-normalised float32 rows; neighbours and weights as in
    :func:`knn_neighbours`.
    """
    out = np.zeros((queries.shape[0], n_classes))
    for start, idx, w in knn_neighbours(
        queries, train, n_neighbors=n_neighbors, weights=weights, batch_size=batch_size
    ):
        b = idx.shape[0]
        flat = (np.arange(b)[:, None] * n_classes + codes[idx]).ravel()
        votes = np.bincount(flat, weights=w.ravel(), minlength=b * n_classes).reshape(b, n_classes)
        out[start : start + b] = votes / votes.sum(axis=1, keepdims=True)
    return out


@register_head("knn")
class KNNHead(BaseHead):
    """k-nearest-neighbour classifier with cosine similarity on L2-normalised embeddings.

    Training rows are stored normalised in float32; prediction runs chunked matrix products and
    ``argpartition`` (no index, no sklearn). ``logits`` are ``log(vote fraction + 1e-9)``, so
    ``predict_proba`` is the (weighted) vote distribution of the neighbours.

    Parameters
    ----------
    n_neighbors : int, default=10
        Neighbours that vote; capped at the number of training rows.
    weights : {"distance", "uniform"}, default="distance"
        ``"distance"`` weighs a neighbour by ``1 / cosine distance``.
    metric : {"cosine"}, default="cosine"
    batch_size : int, default=2048
        Query rows per matrix product (fewer if the similarity block would pass 64 MiB).

    Attributes
    ----------
    train_embeddings_ : ndarray of shape (n_train, n_features), float32
        The L2-normalised training rows.
    train_codes_ : ndarray of shape (n_train,)
        Index into ``classes_`` of each training row.
    classes_ : ndarray of shape (n_classes,)

    Examples
    --------
    >>> X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> head = KNNHead(n_neighbors=3).fit(X, ["a", "a", "b", "b"])
    >>> head.predict(np.array([[0.2, 1.0]])).tolist()
    ['b']
    """

    def __init__(
        self,
        n_neighbors: int = 10,
        weights: str = "distance",
        metric: str = "cosine",
        batch_size: int = 2048,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.metric = metric
        self.batch_size = batch_size

    def _check_params(self) -> None:
        for name in ("n_neighbors", "batch_size"):
            check_param_int(getattr(self, name), name, "KNNHead")
        check_param_choice(self.weights, "weights", "KNNHead", _WEIGHTS)
        check_param_choice(self.metric, "metric", "KNNHead", _METRICS)

    def fit(self, X: Any, y: Any) -> Self:
        """Store the normalised rows ``X`` (n, d) and their labels ``y``."""
        self._check_params()
        X, y = self._validate_fit(X, y, reset=True)
        self._require_two_classes(y)
        self.classes_, self.train_codes_ = np.unique(y, return_inverse=True)
        self.train_codes_ = self.train_codes_.astype(np.int64)
        self.train_embeddings_ = _normalize_rows(X)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> Self:
        """Append rows; labels not seen before (or listed in ``classes``) are added in order."""
        self._check_params()
        first = not hasattr(self, "train_embeddings_")
        X, y = self._validate_fit(X, y, reset=first)
        old = np.asarray([]) if first else self.classes_
        new = class_union(old, np.unique(y))
        if classes is not None:
            new = class_union(new, check_classes_arg(classes))
        codes = np.searchsorted(new, y).astype(np.int64)
        if first:
            self.train_embeddings_ = _normalize_rows(X)
            self.train_codes_ = codes
        else:
            remap = np.searchsorted(new, old).astype(np.int64)
            self.train_embeddings_ = np.concatenate([self.train_embeddings_, _normalize_rows(X)])
            self.train_codes_ = np.concatenate([remap[self.train_codes_], codes])
        self.classes_ = new
        return self

    def _logits(self, X: np.ndarray) -> np.ndarray:
        self._check_params()  # n_neighbors=0 set after fit was reported as an overflow
        fractions = knn_vote_fractions(
            _normalize_rows(X),
            self.train_embeddings_,
            self.train_codes_,
            self.classes_.size,
            n_neighbors=self.n_neighbors,
            weights=self.weights,
            batch_size=self.batch_size,
        )
        return np.log(fractions + _LOG_FLOOR)
