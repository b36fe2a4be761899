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


@pytest.mark.parametrize(
    "params",
    [{}, {"C": 0.1}, {"class_weight": "balanced", "Cs": (0.01, 0.1)}, {"warm_start_from": "lda"}],
)
def test_streaming_logistic_equals_in_memory_fit(cached, params) -> None:
    """Same problem, split and path; the whitening comes from float64 statistics instead of a
    float32 centred product, so solutions agree to the solver's precision, not bit for bit."""
    es, y = cached
    idx = np.arange(1, len(y), 2)
    X = es.to_numpy()
    streamed = fit_streaming(
        get_head("logistic", tol=1e-6, **params), es, y, indices=idx, chunk_rows=40
    )
    # fit_streaming validates on one holdout split and, holding no per-row logits, scores C by
    # the plain held-out log-loss (fit: after a temperature, with the one-SE rule), so the C
    # may differ; at the C it chose, the refit is the in-memory fit's problem on every row.
    at = streamed.val_log_losses_[streamed.Cs_ == streamed.C_]
    if "C" not in params:
        assert at.size == 1 and at[0] <= streamed.val_log_losses_.min() + 1e-4  # best, or a tie
    fixed = {k: v for k, v in params.items() if k not in ("C", "Cs")}
    batch = get_head("logistic", tol=1e-6, C=streamed.C_, preprocess="whiten", **fixed)
    batch.fit(X[idx], y[idx])
    np.testing.assert_array_equal(streamed.classes_, batch.classes_)
    # the streamed refit whitens with the training part's statistics (as fit does after a
    # holdout), the fixed-C fit with every row's: nearly the same problem
    np.testing.assert_allclose(streamed.predict_proba(X), batch.predict_proba(X), atol=0.05)
    assert np.mean(streamed.predict(X) == batch.predict(X)) > 0.98
    assert streamed.n_features_in_ == X.shape[1]


def test_streaming_logistic_on_a_float16_store(tmp_path) -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 300)
    texts = [f"class{c} " * 3 + f"row {i}" for i, c in enumerate(y)]
    es = EmbeddingStore(tmp_path / "c").get_or_compute(
        get_encoder("hash"), texts, shard_size=70, dtype="float16"
    )
    head = fit_streaming(get_head("logistic"), es, y, chunk_rows=32)
    assert head.score(es.to_numpy(), y) > 0.9


def test_streaming_logistic_refuses_mismatched_chunks() -> None:
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.repeat([0, 1], 20)

    def wrong(positions=None):
        yield X, np.full(40, 7)  # labels that are not y's

    with pytest.raises(InputError, match="do not match y"):
        get_head("logistic").fit_streaming(wrong, y)
