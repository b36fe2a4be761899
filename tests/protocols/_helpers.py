"""Toy data for the protocol tests: separated blobs with train and test rows."""

from __future__ import annotations

import numpy as np


def blobs(n_classes: int = 4, n_train: int = 20, n_test: int = 10, d: int = 8, seed: int = 0,
          scale: float = 4.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=scale, size=(n_classes, d))
    ytr = np.repeat(np.arange(n_classes), n_train)
    yte = np.repeat(np.arange(n_classes), n_test)
    Xtr = centers[ytr] + rng.normal(size=(ytr.size, d)) + 1.0
    Xte = centers[yte] + rng.normal(size=(yte.size, d)) + 1.0
    return Xtr, ytr, Xte, yte
