"""Toy data for the trust tests: overlapping Gaussian classes, so sets are not trivial."""

from __future__ import annotations

import numpy as np


def overlapping_blobs(
    n: int, n_classes: int = 5, n_features: int = 6, *, seed: int = 0, spread: float = 1.6
) -> tuple[np.ndarray, np.ndarray]:
    """Class centres fixed by ``n_classes``/``n_features``; rows drawn from ``seed``."""
    centres = np.random.default_rng(12345).normal(scale=spread, size=(n_classes, n_features))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    return centres[y] + rng.normal(size=(n, n_features)), y
