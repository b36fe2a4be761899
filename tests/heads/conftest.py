"""Fixtures for the head tests: three-class toy blobs and every registered head name."""

from __future__ import annotations

import numpy as np
import pytest

from ._helpers import contract_heads, toy_blobs


@pytest.fixture
def blobs() -> tuple[np.ndarray, np.ndarray]:
    """Three-class blobs, 30 rows each, 8 features."""
    return toy_blobs()


@pytest.fixture
def blobs_test() -> tuple[np.ndarray, np.ndarray]:
    """Fresh rows around the same three centres."""
    return toy_blobs(n_per_class=10, noise_seed=1)


@pytest.fixture(params=contract_heads())
def head_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)
