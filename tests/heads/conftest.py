"""Fixtures for the head tests: three-class toy blobs and every registered head name."""

from __future__ import annotations

import numpy as np
import pytest

from headwise.heads import is_token_head, list_heads

from ._helpers import toy_blobs


@pytest.fixture
def blobs() -> tuple[np.ndarray, np.ndarray]:
    """Three-class blobs, 30 rows each, 8 features."""
    return toy_blobs()


@pytest.fixture
def blobs_test() -> tuple[np.ndarray, np.ndarray]:
    """Fresh rows around the same three centres."""
    return toy_blobs(n_per_class=10, noise_seed=1)


# Token-level heads (attentive, moment) take per-token features, not (n, d) rows: they have
# their own contract tests in test_token_heads.py.
@pytest.fixture(params=[n for n in list_heads() if not is_token_head(n)])
def head_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)
