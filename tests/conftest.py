"""Shared fixtures: an isolated cache per test, no progress bars, paths to the shared data,
real MiniLM embeddings of shared data sets (computed once per session)."""

from __future__ import annotations

import gzip
import json
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
# HEADWISE_CACHE_DIR as it was when pytest started (the autouse fixture below points each test
# at a temporary cache): with a warm cache there, the real embeddings load in a second.
_STARTUP_CACHE = os.environ.get("HEADWISE_CACHE_DIR")

# Rows of each shared set that ``minilm_embeddings`` embeds: a seeded random sample, every split
# in proportion (embedding the whole sets took most of the slow tests' time). Banking77 keeps
# ~36 calibration rows in each of its 77 classes for the Mondrian check in
# tests/trust/test_real_data.py; Emotion ~1,400 calibration and test rows for its 6 classes.
REAL_ROWS = {"banking77": 8000, "emotion": 4000}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``-n``, ``--dist loadgroup``), keep on one worker the tests that share
    an expensive session: the Ray tests (one local Ray at a time; the two-node test replaces
    it) and the tests that use the real MiniLM embeddings (embedded once, not once per worker)."""
    for item in items:
        if "minilm_embeddings" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("minilm-embeddings"))
        elif "tests/distributed/" in item.nodeid:
            item.add_marker(pytest.mark.xdist_group("ray"))


def load_rows(name: str) -> list[dict]:
    """The rows of ``shared/data/<name>.jsonl.gz``."""
    with gzip.open(SHARED_DATA / f"{name}.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


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


@pytest.fixture(scope="session")
def minilm_embeddings(tmp_path_factory: pytest.TempPathFactory):
    """``get(name) -> (X, labels, splits)``: ``REAL_ROWS[name]`` rows of a shared data set
    (all of them for a set not listed), embedded with minilm once per session, as float64."""
    if not (SHARED_DATA / "banking77.jsonl.gz").is_file():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    pytest.importorskip("transformers")
    from headwise.encoders import get_encoder
    from headwise.store import EmbeddingStore

    root = _STARTUP_CACHE or str(tmp_path_factory.mktemp("minilm-cache"))
    store = EmbeddingStore(root)
    encoder = get_encoder("minilm")
    memo: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def get(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if name not in memo:
            rows = load_rows(name)
            max_rows = REAL_ROWS.get(name)
            if max_rows is not None and max_rows < len(rows):
                keep = np.sort(np.random.default_rng(0).permutation(len(rows))[:max_rows])
                rows = [rows[i] for i in keep]
            X = store.get_or_compute(encoder, [r["text"] for r in rows], progress=False).to_numpy()
            memo[name] = (
                np.asarray(X, dtype=np.float64),
                np.array([r["label"] for r in rows]),
                np.array([r["split"] for r in rows]),
            )
        return memo[name]

    return get
