"""One entry point over every strategy, by name, for protocols and the labelling page."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np

from ..exceptions import InputError
from ._balance import class_balanced
from ._common import labeled_mask
from ._coreset import coreset, pcoreset
from ._uncertainty import entropy, least_confidence, margin, random_query

__all__ = ["STRATEGIES", "select_batch"]

#: Strategy names; ``"pcb:<name>"`` wraps any of them in the class-balance step.
STRATEGIES: tuple[str, ...] = (
    "random", "least_confidence", "margin", "entropy", "coreset", "pcoreset",
)  # fmt: skip


def _base(name: str, budget: int, X: Any, proba: Any, labeled: Any, seed: Any) -> np.ndarray:
    if name == "random":
        n = (np.asarray(X) if X is not None else np.asarray(proba)).shape[0]
        return random_query(n, budget, labeled=labeled, seed=seed)
    if name == "coreset":
        if X is None:
            raise InputError("The 'coreset' strategy needs the pool embeddings X.")
        return coreset(X, budget, labeled=labeled, seed=seed)
    if proba is None:
        raise InputError(f"The '{name}' strategy needs the model's probabilities on the pool.")
    fn = {"least_confidence": least_confidence, "margin": margin, "entropy": entropy,
          "pcoreset": pcoreset}[name]  # fmt: skip
    return fn(proba, budget, labeled=labeled, seed=seed)


def select_batch(
    strategy: str,
    budget: int,
    *,
    X: Any = None,
    proba: Any = None,
    labeled: Any = None,
    labeled_codes: Any = None,
    seed: Any = 0,
    candidate_factor: int = 4,
) -> np.ndarray:
    """``budget`` pool rows to label next, chosen by ``strategy``.

    Parameters
    ----------
    strategy : str
        One of :data:`STRATEGIES`, or ``"pcb:<strategy>"`` for the class-balanced version:
        the base strategy proposes ``candidate_factor * budget`` rows (capped by the pool) and
        :func:`class_balanced` fills the least-labelled pseudo-classes from them.
    X : array (n_pool, d), optional
        Pool embeddings (``coreset``).
    proba : array (n_pool, K), optional
        The model's probabilities on the pool (uncertainty strategies, ``pcoreset``, ``pcb:``).
    labeled : indices or mask, optional
        Pool rows already labelled; never picked.
    labeled_codes : array of int, optional
        Class codes (columns of ``proba``) of the labelled rows, for ``pcb:``.

    >>> P = np.array([[0.9, 0.1], [0.6, 0.4], [0.5, 0.5], [0.2, 0.8]])
    >>> select_batch("margin", 2, proba=P).tolist()
    [2, 1]
    """
    balanced = strategy.startswith("pcb:")
    name = strategy[4:] if balanced else strategy
    if name not in STRATEGIES:
        raise InputError(
            f"Unknown strategy '{strategy}'. Available: {', '.join(STRATEGIES)} "
            "(prefix any with 'pcb:' for class balance)."
        )
    if not balanced:
        return _base(name, budget, X, proba, labeled, seed)
    if proba is None:
        raise InputError("Class balance (pcb:) needs the model's probabilities on the pool.")
    f = candidate_factor
    if isinstance(f, bool) or not isinstance(f, Integral) or f < 1:
        raise InputError(f"candidate_factor must be an int >= 1. Got {f!r} instead.")
    P = np.asarray(proba)
    n_left = int((~labeled_mask(labeled, P.shape[0])).sum())
    n_cand = min(n_left, int(f) * int(budget))
    cand = _base(name, n_cand, X, P, labeled, seed)
    codes = () if labeled_codes is None else labeled_codes
    return class_balanced(cand, P.argmax(axis=1), budget, labeled_labels=codes,
                          n_classes=P.shape[1], seed=seed)
