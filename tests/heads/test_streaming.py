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
    # fit_streaming always validates on one holdout split; fit does so with cv="holdout". With
    # preprocess="auto" streaming keeps the whitened geometry (no per-row losses for the contest).
    batch = get_head("logistic", tol=1e-6, cv="holdout", preprocess="whiten", **params).fit(X[idx], y[idx])
    assert streamed.C_ == batch.C_
    np.testing.assert_array_equal(streamed.classes_, batch.classes_)
    np.testing.assert_allclose(streamed.val_scores_, batch.val_scores_)
    # These rows are nearly separable: the widened C grid reaches C ~ 30, where the objective is
    # flat enough that coefficients agree to ~1% while the probabilities agree to 1e-4.
    np.testing.assert_allclose(streamed.coef_, batch.coef_, rtol=1e-2, atol=3e-2)
    np.testing.assert_allclose(streamed.predict_proba(X), batch.predict_proba(X), atol=1e-3)
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
