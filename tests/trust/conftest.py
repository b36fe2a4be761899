"""Real MiniLM embeddings of the shared datasets for the slow trust tests.

The session fixture reads ``HEADWISE_CACHE_DIR`` as it was when pytest started (the autouse
fixture later points each test at a temporary cache): with a shared, warm cache the embeddings
load in a second; otherwise they are computed once per session into a temporary cache.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest

_STARTUP_CACHE = os.environ.get("HEADWISE_CACHE_DIR")
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def load_rows(name: str) -> list[dict]:
    with gzip.open(SHARED_DATA / f"{name}.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="session")
def minilm_embeddings(tmp_path_factory):
    """``get(name) -> (X, labels, splits)`` for a shared dataset, embedded with minilm."""
    if not (SHARED_DATA / "banking77.jsonl.gz").is_file():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    pytest.importorskip("transformers")
    from headwise.encoders import get_encoder
    from headwise.store import EmbeddingStore

    root = _STARTUP_CACHE or str(tmp_path_factory.mktemp("minilm-cache"))
    store = EmbeddingStore(root)
    encoder = get_encoder("minilm")
    memo: dict[tuple[str, int | None], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def get(name: str, max_rows: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All rows of ``name``, or a seeded random ``max_rows`` of them (every split shrinks
        in proportion), so that embedding a large set does not dominate the test session."""
        if (name, max_rows) not in memo:
            rows = load_rows(name)
            if max_rows is not None and max_rows < len(rows):
                keep = np.sort(np.random.default_rng(0).permutation(len(rows))[:max_rows])
                rows = [rows[i] for i in keep]
            texts = [r["text"] for r in rows]
            X = store.get_or_compute(encoder, texts, progress=False).to_numpy()
            memo[(name, max_rows)] = (
                np.asarray(X, dtype=np.float64),
                np.array([r["label"] for r in rows]),
                np.array([r["split"] for r in rows]),
            )
        return memo[(name, max_rows)]

    return get
