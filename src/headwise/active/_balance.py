"""Class balance after PCB (Bang et al., "Active Prompt Learning in Vision Language Models").

A base strategy proposes candidates (more than the budget, best first); the batch is then
filled one row at a time from the pseudo-class (the model's predicted class) that has the
fewest labelled-or-picked rows so far, taking that class's best remaining candidate. This keeps
rare classes from being starved when the model's uncertainty concentrates on a few classes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import InputError
from ._common import rng_of

__all__ = ["class_balanced"]


def class_balanced(
    candidates: Any,
    pseudo_labels: Any,
    budget: int,
    *,
    labeled_labels: Any = (),
    n_classes: int | None = None,
    seed: Any = 0,
) -> np.ndarray:
    """Pick ``budget`` of the ordered ``candidates``, filling the least-labelled pseudo-classes.

    Parameters
    ----------
    candidates : array of int
        Pool indices proposed by a base strategy, best first (e.g. ``entropy(P, 4 * B)``).
    pseudo_labels : array of int, shape (n_pool,)
        Predicted class code of every pool row (``proba.argmax(axis=1)``).
    budget : int
    labeled_labels : array of int
        Class codes of the rows labelled so far (their true labels).
    n_classes : int, optional
        Number of classes (default: one more than the largest code seen).
    seed : int or Generator
        Breaks ties between equally labelled classes.

    Returns
    -------
    ndarray of int
        Pool indices, in pick order.

    Examples
    --------
    >>> class_balanced([0, 1, 2, 3], np.array([0, 0, 0, 1]), 2, labeled_labels=[0]).tolist()
    [3, 0]
    """
    cand = np.asarray(candidates, dtype=np.int64).ravel()
    pl = np.asarray(pseudo_labels).ravel()
    lab = np.asarray(labeled_labels, dtype=np.int64).ravel()
    if np.unique(cand).size != cand.size:
        raise InputError("candidates must not repeat a row.")
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise InputError(f"budget must be an int >= 1. Got {budget!r} instead.")
    if budget > cand.size:
        raise InputError(
            f"budget {budget} exceeds the {cand.size} candidate(s); ask the base strategy for more."
        )
    if cand.size and (cand.min() < 0 or cand.max() >= pl.size):
        raise InputError(f"candidates must index the {pl.size} pool rows of pseudo_labels.")
    codes = pl[cand].astype(np.int64)
    K = int(n_classes) if n_classes is not None else int(max(codes.max(initial=-1), lab.max(initial=-1)) + 1)
    if codes.size and (codes.min() < 0 or codes.max() >= K) or lab.size and lab.max() >= K:
        raise InputError(f"pseudo and true labels must be class codes in [0, {K}).")
    counts = np.bincount(lab, minlength=K).astype(np.int64)
    queues = [list(cand[codes == c]) for c in range(K)]  # each keeps the base order
    heads = np.zeros(K, dtype=np.int64)
    left = np.array([len(q) for q in queues])
    rng = rng_of(seed)
    tiebreak = rng.random(K)
    picks: list[int] = []
    for _ in range(int(budget)):
        open_ = left > 0
        low = counts[open_].min()
        choices = np.flatnonzero(open_ & (counts == low))
        c = int(choices[np.argmin(tiebreak[choices])])
        picks.append(int(queues[c][heads[c]]))
        heads[c] += 1
        left[c] -= 1
        counts[c] += 1
        tiebreak = rng.random(K)
    return np.asarray(picks, dtype=np.int64)
