"""Shared fixtures: an isolated cache per test, no progress bars, paths to the shared data."""

from __future__ import annotations

import os
from pathlib import Path

# Idle OpenMP threads sleep instead of spinning. The tests run many tiny torch steps (MLP and
# Fourier heads on toy blobs, tiny transformers): with GNU OpenMP's default spin-wait each step
# left the second thread burning a core, 3-13x the CPU time of the work itself on a busy 2-core
# machine. Thread counts, and so the code paths under test, are unchanged. It must be set before
# torch loads its OpenMP runtime, hence here, and subprocesses of the tests inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path_factory.mktemp("headwise-cache")
    monkeypatch.setenv("HEADWISE_CACHE_DIR", str(root))
    monkeypatch.setenv("HEADWISE_PROGRESS", "0")
    monkeypatch.delenv("HEADWISE_DEBUG", raising=False)
    return root


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def blobs() -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated Gaussian classes in 8 dimensions."""
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=3.0, size=(3, 8))
    y = np.repeat(np.arange(3), 40)
    X = centers[y] + rng.normal(size=(120, 8))
    return X, y
