"""The logistic probe's penalty geometries, and how many rows their contest needs.

A geometry is a penalty on the raw-space weights ``W``: ``"whiten"`` penalises ``Wᵀ Σ W`` (LDA's
metric, Σ the shrunk within-class covariance), ``"isotropic"`` ``s² ||W||²`` (scikit-learn's), and
``"standardize"``/``"none"`` per-feature scales. Every geometry with a whitening available is
solved on the same whitened rows ``Z``; only the penalty matrix on ``Z``'s weights differs
(:func:`~headwise.heads._softmax.penalty_metric`). So the data term L-BFGS sees is well
conditioned whatever the penalty, and the two geometries of ``preprocess="auto"`` share one
transform of the rows.

``preprocess="auto"`` keeps the isotropic penalty unless whitening lowers the held-out log-loss
by more than two paired standard errors. On many rows that contest doubles the C search; it is
first run on nested stratified subsamples of the training part (:func:`contest_sizes`), scored
on the whole holdout, and stops at the first size where one geometry is ahead by more than two
paired standard errors: the penalty matters most on few rows, and a geometry that is clearly
better on a subsample fitted with its own best C is, as rows are added and every penalty's
weight shrinks, no worse than its rival on all of them. Only when no subsample decides does the
contest run on every training row, exactly as without subsamples.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._softmax import Preprocessor, penalty_metric

__all__ = ["contest_sizes", "geometries"]

_REPARAMETRISED = ("isotropic", "whiten")  # solved on whitened rows under their own penalty
_CONTEST_MIN_ROWS = 8192  # smallest subsample the geometry contest runs on
_CONTEST_ROWS_PER_CLASS = 50  # ... and at least this many training rows per class
_CONTEST_MAX_SHARE = 0.25  # the subsamples together hold at most this share of the training rows


def geometries(
    moments: tuple[np.ndarray, np.ndarray, np.ndarray], kinds: Sequence[str]
) -> dict[str, tuple[Preprocessor, np.ndarray | None]]:
    """Coordinates and penalty metric (``None``: the identity) of each geometry in ``kinds``.

    ``moments`` are class counts, class means and the pooled within-class covariance
    (:func:`~headwise.heads._softmax.class_moments`). ``"isotropic"`` and ``"whiten"`` share
    one whitening :class:`Preprocessor` (the same object); the others get their own.

    >>> X = np.random.default_rng(0).normal(size=(40, 3))
    >>> from headwise.heads._softmax import class_moments
    >>> g = geometries(class_moments(X, np.arange(40) % 2, 2), ("isotropic", "whiten"))
    >>> g["isotropic"][0] is g["whiten"][0], g["whiten"][1] is None, g["isotropic"][1].shape
    (True, True, (3, 3))
    """
    out: dict[str, tuple[Preprocessor, np.ndarray | None]] = {}
    white: Preprocessor | None = None
    for kind in kinds:
        if kind not in _REPARAMETRISED:
            out[kind] = (Preprocessor.from_moments(*moments, kind), None)
            continue
        white = white or Preprocessor.from_moments(*moments, "whiten")
        metric = None
        if kind != "whiten":
            metric = penalty_metric(white, Preprocessor.from_moments(*moments, kind))
        out[kind] = (white, metric)
    return out


def contest_sizes(n_train: int, n_classes: int) -> list[int]:
    """Training-row counts of the subsample contests before the one on all ``n_train`` rows.

    Doubling from ``max(8192, 50 · n_classes)`` while the looks together hold at most a quarter
    of the rows: both geometries' searches on them cost at most half of one search on every row,
    so a contest decided there saves a quarter to a half of the C search, and an undecided one
    adds at most a quarter.

    >>> contest_sizes(90_000, 100), contest_sizes(9_000, 77), contest_sizes(900_000, 1000)
    ([8192], [], [50000, 100000])
    """
    size = max(_CONTEST_MIN_ROWS, _CONTEST_ROWS_PER_CLASS * n_classes)
    out: list[int] = []
    while sum(out) + size <= _CONTEST_MAX_SHARE * n_train:
        out.append(size)
        size *= 2
    return out
