"""Moment probe: per-example mean and low-rank token covariance, then a linear head."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from .._validation import check_param_choice, check_param_int, param_error
from ._registry import get_head, register_head
from ._token_base import TokenHead
from ._tokens import RaggedTokens

__all__ = ["MomentProbeHead", "moment_features"]

_PROJECTIONS = ("pca", "random")
_PCA_TOKENS = 200_000  # tokens sampled to estimate the PCA projection


def moment_features(
    tokens: RaggedTokens, centre: np.ndarray, projection: np.ndarray, include_mean: bool = True
) -> np.ndarray:
    """Per example: the mean token (optional) and the upper triangle of the projected covariance.

    With ``z_t = (x_t - centre) @ projection`` (r dims), the second-order block is the upper
    triangle (diagonal included) of ``(1/t) Σ_t (z_t - z̄)(z_t - z̄)ᵀ``: ``r (r + 1) / 2`` values.
    A single-token example has a zero covariance.

    >>> from headwise.heads._tokens import check_tokens
    >>> t = check_tokens([np.array([[1.0, 0.0], [3.0, 0.0]])], "doc")
    >>> moment_features(t, np.zeros(2), np.eye(2)).tolist()
    [[2.0, 0.0, 1.0, 0.0, 0.0]]
    """
    n, lengths = len(tokens), tokens.lengths.astype(np.float64)
    starts = tokens.offsets[:-1]
    z = (tokens.vectors.astype(np.float64) - centre) @ projection
    r = z.shape[1]
    z_mean = np.add.reduceat(z, starts, axis=0) / lengths[:, None]
    zc = z - np.repeat(z_mean, tokens.lengths, axis=0)
    iu = np.triu_indices(r)
    cov = np.empty((n, iu[0].size))
    chunk = max(1, 2_000_000 // max(r * r, 1))  # tokens per outer-product chunk (~16 MB)
    first = 0
    while first < n:  # whole examples per chunk, so reduceat sums never straddle a boundary
        last = int(np.searchsorted(tokens.offsets, tokens.offsets[first] + chunk, side="right"))
        last = min(max(last - 1, first + 1), n)
        lo, hi = tokens.offsets[first], tokens.offsets[last]
        outer = zc[lo:hi, iu[0]] * zc[lo:hi, iu[1]]
        cov[first:last] = np.add.reduceat(outer, starts[first:last] - lo, axis=0)
        first = last
    cov /= lengths[:, None]
    if not include_mean:
        return cov
    mean = np.add.reduceat(tokens.vectors.astype(np.float64), starts, axis=0) / lengths[:, None]
    return np.hstack([mean, cov])


@register_head("moment")
class MomentProbeHead(TokenHead):
    """First- and second-order token statistics, then a linear head on pooled features.

    Each example's tokens ``x_t`` (d dims) become the mean token plus the upper triangle of the
    covariance of ``z_t = (x_t - μ) P``, where ``P`` (d, r) holds the top-``rank`` principal
    directions of the training tokens (``projection="pca"``) or a seeded Gaussian matrix
    (``"random"``). The features are standardised and passed to ``head`` (any registered pooled
    head; LDA by default). Mean pooling sees only the first block; the covariance block carries
    labels that live in how tokens co-vary.

    Parameters
    ----------
    rank : int >= 1, default=16
        ``r``: the covariance block has ``r (r + 1) / 2`` features.
    projection : {"pca", "random"}, default="pca"
    head : str, default="lda"
        Registry name of the linear head fitted on the features (``"lda"``, ``"logistic"``...).
    head_params : dict or None, default=None
        Parameters of that head.
    include_mean : bool, default=True
        Keep the mean token (the mean-pooling features) beside the covariance block.
    random_state : int, RandomState or None, default=0
        Seeds the random projection and the PCA token sample.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
        Token width ``d``.
    centre_ : ndarray of shape (d,)
    projection_ : ndarray of shape (d, rank)
    feature_mean_, feature_scale_ : ndarray of shape (n_moment_features,)
    head_ : the fitted linear head

    Notes
    -----
    ``X`` is token features: ``TokenEmbeddings``, a list of ``(t_i, d)`` arrays or a padded
    ``(n, T, d)`` array with no padding (see :mod:`headwise.heads._tokens`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.normal(size=(6, 3)) * (1 + 2 * (i % 2)) for i in range(40)]  # labels in the scale
    >>> y = [i % 2 for i in range(40)]
    >>> MomentProbeHead(rank=2).fit(X, y).score(X, y) > 0.9
    True
    """

    def __init__(
        self,
        rank: int = 16,
        projection: str = "pca",
        head: str = "lda",
        head_params: dict[str, Any] | None = None,
        include_mean: bool = True,
        random_state: Any = 0,
    ) -> None:
        self.rank = rank
        self.projection = projection
        self.head = head
        self.head_params = head_params
        self.include_mean = include_mean
        self.random_state = random_state

    def _check_params(self, d: int) -> int:
        owner = type(self).__name__
        check_param_int(self.rank, "rank", owner)
        check_param_choice(self.projection, "projection", owner, _PROJECTIONS)
        if self.head_params is not None and not isinstance(self.head_params, dict):
            raise param_error(owner, "head_params", "a dict or None", self.head_params)
        return int(min(self.rank, d))

    def _projection(self, tokens: RaggedTokens, rank: int) -> tuple[np.ndarray, np.ndarray]:
        rng = check_random_state(self.random_state)
        x = tokens.vectors
        if x.shape[0] > _PCA_TOKENS:
            x = x[np.sort(rng.choice(x.shape[0], _PCA_TOKENS, replace=False))]
        centre = x.astype(np.float64).mean(axis=0)
        d = x.shape[1]
        if self.projection == "random":
            return centre, rng.normal(size=(d, rank)) / np.sqrt(d)
        xc = x.astype(np.float64) - centre
        cov = xc.T @ xc / max(xc.shape[0] - 1, 1)
        evals, evecs = np.linalg.eigh(cov)
        top = evecs[:, ::-1][:, :rank]
        # Unit variance per direction, so the covariance block is on a common scale.
        scale = np.sqrt(np.maximum(evals[::-1][:rank], 1e-12))
        signs = np.where(top[np.abs(top).argmax(axis=0), np.arange(rank)] < 0, -1.0, 1.0)
        return centre, top * signs / scale

    def _features(self, tokens: RaggedTokens) -> np.ndarray:
        raw = moment_features(tokens, self.centre_, self.projection_, bool(self.include_mean))
        return (raw - self.feature_mean_) / self.feature_scale_

    def fit(self, X: Any, y: Any) -> MomentProbeHead:
        """Fit on token features ``X`` (n examples) and labels ``y`` (n,)."""
        tokens, y = self._validate_tokens_fit(X, y)
        rank = self._check_params(tokens.dim)
        self.centre_, self.projection_ = self._projection(tokens, rank)
        raw = moment_features(tokens, self.centre_, self.projection_, bool(self.include_mean))
        self.feature_mean_ = raw.mean(axis=0)
        scale = raw.std(axis=0)
        self.feature_scale_ = np.where(scale > 1e-12, scale, 1.0)
        inner = get_head(self.head, **(self.head_params or {}))
        self.head_ = inner.fit((raw - self.feature_mean_) / self.feature_scale_, y)
        self.classes_ = self.head_.classes_
        return self

    def _token_logits(self, tokens: RaggedTokens) -> np.ndarray:
        return np.asarray(self.head_.logits(self._features(tokens)))
