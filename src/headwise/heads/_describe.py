"""What a fitted head chose on its own evidence, in a few words for people (CLI, benchmarks)."""

from __future__ import annotations

from typing import Any

__all__ = ["chosen_settings"]

# fitted attribute -> the name a user sets it by
_SETTINGS = (("C_", "C"), ("alpha_", "alpha"), ("shrinkage_", "shrinkage"), ("prior_strength_", "prior_strength"))


def chosen_settings(head: Any) -> dict[str, Any]:
    """The settings ``head`` chose when fitted: ``auto``'s members and their stacking weights
    (``{"lda": 0.49, "zeroshot": 0.51}``), or the penalty a tuned head settled on
    (``{"C": 0.0021}``); ``{}`` for a head that chooses nothing.

    >>> import numpy as np
    >>> from headwise.heads import get_head
    >>> X = np.r_[np.zeros((5, 2)), np.ones((5, 2))] + np.arange(10)[:, None] * 0.01
    >>> chosen_settings(get_head("ridge").fit(X, [0] * 5 + [1] * 5)).keys()
    dict_keys(['alpha'])
    """
    members, weights = getattr(head, "members_", None), getattr(head, "weights_", None)
    if members is not None and weights is not None:
        return {str(m): round(float(w), 4) for m, w in zip(members, weights, strict=True)}
    for attr, name in _SETTINGS:
        value = getattr(head, attr, None)
        if isinstance(value, int | float):
            return {name: float(f"{float(value):.4g}")}
    return {}
