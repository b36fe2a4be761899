"""Out-of-distribution ("none of the known classes") scores, a conformal threshold and AUROC."""

from __future__ import annotations

from typing import Any, Self

import numpy as np
from scipy import linalg
from scipy.special import logsumexp, softmax
from scipy.stats import rankdata

from .._validation import check_embeddings
from ..exceptions import InputError
from ._scores import check_alpha, conformal_quantile

__all__ = ["OOD_METHODS", "OODDetector", "logit_ood_scores", "ood_auroc", "ood_scores"]

OOD_METHODS = ("msp", "energy", "mahalanobis")


def _mahalanobis(head: Any, X: np.ndarray) -> np.ndarray:
    """Smallest squared Mahalanobis distance to a class mean under LDA's shrunk pooled covariance."""
    from ..heads import safe_class_means, shrink

    stats = getattr(head, "stats_", None)
    if stats is None or not hasattr(head, "shrinkage_") or getattr(stats, "gram", None) is None:
        raise InputError(
            f"OOD method 'mahalanobis' uses the LDA model's class means and shared covariance; "
            f"{type(head).__name__} has none. Use --head lda, or method 'msp' or 'energy'."
        )
    cov = shrink(stats.within_scatter() / stats.n_samples, head.shrinkage_)
    evals, evecs = linalg.eigh(cov)
    evals = np.maximum(evals, max(float(head.tol), 1e-12) * float(evals.max()))
    whiten = evecs / np.sqrt(evals)  # x ↦ (x Wᵀ) has identity covariance
    present = stats.counts > 0
    means = safe_class_means(stats)[present] @ whiten
    Z = np.asarray(X, dtype=np.float64) @ whiten
    d2 = (
        np.einsum("ij,ij->i", Z, Z)[:, None]
        - 2.0 * Z @ means.T
        + np.einsum("ij,ij->i", means, means)[None, :]
    )
    return np.maximum(d2.min(axis=1), 0.0)


def ood_scores(head: Any, X: Any, method: str = "energy", *, temperature: float = 1.0) -> np.ndarray:
    """Per-row OOD score, larger = more likely none of the known classes.

    ``"msp"``: ``1 - max softmax(z / T)``. ``"energy"``: ``-T · logsumexp(z / T)`` (Liu et al.,
    2020). ``"mahalanobis"``: the smallest squared Mahalanobis distance to a class mean under
    the fitted LDA head's shrunk pooled covariance (Lee et al., 2018); LDA heads only.

    >>> from headwise.heads import LDAHead
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 1, (50, 2)), rng.normal(4, 1, (50, 2))]
    >>> head = LDAHead().fit(X, [0] * 50 + [1] * 50)
    >>> s = ood_scores(head, np.array([[0.0, 0.0], [30.0, -30.0]]), "mahalanobis")
    >>> bool(s[1] > s[0])
    True
    """
    if method not in OOD_METHODS:
        raise InputError(f"Unknown OOD method {method!r}; choose one of {', '.join(OOD_METHODS)}.")
    X = check_embeddings(X)
    if method == "mahalanobis":
        return _mahalanobis(head, X)
    return logit_ood_scores(head.logits(X), method, temperature=temperature)


def logit_ood_scores(logits: Any, method: str = "energy", *, temperature: float = 1.0) -> np.ndarray:
    """:func:`ood_scores` from logits already computed (``"msp"`` and ``"energy"`` only), so a
    caller that needs the logits anyway does not run the head twice.

    >>> logit_ood_scores(np.array([[0.0, 0.0]]), "msp")
    array([0.5])
    """
    if method not in ("msp", "energy"):
        raise InputError(f"OOD method {method!r} needs the head, not its logits; use ood_scores.")
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    if method == "msp":
        return 1.0 - softmax(z, axis=1).max(axis=1)
    return -float(temperature) * logsumexp(z, axis=1)


def ood_auroc(scores_in: Any, scores_out: Any) -> float:
    """Area under the ROC curve for telling out-of-distribution rows (positives) from in-
    distribution ones by score: the probability that an OOD row scores higher, ties counting ½.

    >>> ood_auroc([0.1, 0.2, 0.3], [0.25, 0.9])
    0.8333333333333334
    """
    a = np.asarray(scores_in, dtype=np.float64).ravel()
    b = np.asarray(scores_out, dtype=np.float64).ravel()
    if a.size == 0 or b.size == 0:
        raise InputError("AUROC needs at least one in-distribution and one OOD row.")
    ranks = rankdata(np.concatenate([a, b]))  # average ranks for ties
    u = ranks[a.size :].sum() - b.size * (b.size + 1) / 2.0
    return float(u / (a.size * b.size))


class OODDetector:
    """Flag rows as "none of the known classes" with a conformal threshold on an OOD score.

    ``calibrate(X_cal)`` takes in-distribution rows the head was not fitted on; ``is_ood(X,
    alpha)`` flags rows scoring above the ``⌈(n+1)(1-α)⌉``-th smallest calibration score, so an
    in-distribution row is flagged with probability at most ``alpha``. ``pvalues`` gives the
    conformal p-value ``(1 + #{cal ≥ s}) / (n + 1)``.
    """

    def __init__(self, head: Any, method: str = "energy", temperature: float = 1.0) -> None:
        self.head = head
        self.method = method
        self.temperature = temperature

    def score(self, X: Any) -> np.ndarray:
        return ood_scores(self.head, X, self.method, temperature=self.temperature)

    def calibrate(self, X_cal: Any) -> Self:
        self.cal_scores_ = np.sort(self.score(X_cal))
        return self

    def _check(self) -> None:
        if not hasattr(self, "cal_scores_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("This OODDetector is not calibrated; call calibrate(X_cal).")

    def threshold(self, alpha: float) -> float:
        self._check()
        return conformal_quantile(self.cal_scores_, check_alpha(alpha, "OODDetector"))

    def is_ood(self, X: Any, alpha: float) -> np.ndarray:
        return self.score(X) > self.threshold(alpha)

    def pvalues(self, X: Any) -> np.ndarray:
        self._check()
        s = self.score(X)
        n = self.cal_scores_.size
        at_least = n - np.searchsorted(self.cal_scores_, s, side="left")
        return (1.0 + at_least) / (n + 1.0)
