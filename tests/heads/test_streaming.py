from __future__ import annotations

import numpy as np
import pytest

from headwise.encoders import get_encoder
from headwise.exceptions import InputError
from headwise.heads import fit_streaming, get_head, stream_stats
from headwise.heads._stats import SufficientStats
from headwise.store import EmbeddingStore


@pytest.fixture
def cached(tmp_path):
    rng = np.random.default_rng(0)
    words = np.array(["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta"])
    y = rng.integers(0, 4, 600)
    texts = [" ".join(rng.choice(words[2 * c : 2 * c + 2], 3)) + f" r{i}" for i, c in enumerate(y)]
    es = EmbeddingStore(tmp_path / "c").get_or_compute(get_encoder("hash"), texts, shard_size=64)
    return es, y


@pytest.mark.parametrize("name", ["ncm", "lda", "ridge", "nb"])
def test_streaming_fit_equals_in_memory_fit(cached, name: str) -> None:
    es, y = cached
    idx = np.arange(0, len(y), 3)
    X = es.to_numpy()
    streamed = fit_streaming(get_head(name), es, y, indices=idx, chunk_rows=50)
    batch = get_head(name).fit(X[idx], y[idx])
    np.testing.assert_allclose(streamed.logits(X), batch.logits(X), rtol=1e-6, atol=1e-8)


def test_stream_stats_matches_from_data(cached) -> None:
    es, y = cached
    s = stream_stats(es, y)
    ref = SufficientStats.from_data(es.to_numpy(), y)
    np.testing.assert_allclose(s.gram_full, ref.gram_full, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(s.sums, ref.sums, rtol=1e-10, atol=1e-10)


def test_label_count_must_match_rows(cached) -> None:
    es, y = cached
    with pytest.raises(InputError, match="labels"):
        stream_stats(es, y[:-5])
    with pytest.raises(InputError, match="labels"):
        stream_stats(es, np.r_[y, y[:3]])


def test_knn_refuses_streaming(cached) -> None:
    es, y = cached
    with pytest.raises(InputError, match="needs every row in memory"):
        fit_streaming(get_head("knn"), es, y)
