"""Exact leave-one-out closed forms against brute-force refits of the heads."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import log_softmax

from headwise.heads import KNNHead, LDAHead, NCMHead, RidgeHead
from headwise.heads._loo import loo_knn_logits, loo_lda_logits, loo_ncm_logits, loo_ridge_logits


def _data(n=40, d=6, k=3, seed=0, singleton=False):
    rng = np.random.default_rng(seed)
    y = np.r_[np.arange(k), rng.integers(0, k, n - k)]
    if singleton:  # class k: one row only
        y = np.r_[y, k]
        k += 1
    X = rng.normal(size=(y.size, d)) * np.linspace(0.5, 2.0, d) + 0.7 * y[:, None] + 1.0
    return X, y, k


def _brute(make, X, y, k):
    out = np.empty((y.size, k))
    for i in range(y.size):
        keep = np.arange(y.size) != i
        head = make().fit(X[keep], y[keep])
        z = np.full(k, -np.inf)
        z[np.searchsorted(np.arange(k), head.classes_)] = head.logits(X[i : i + 1])[0]
        out[i] = z
    return out


def _same_up_to_row_constant(a, b):
    """Softmax and argmax ignore a constant per row; the closed forms may drop one."""
    np.testing.assert_array_equal(np.isinf(a), np.isinf(b))
    np.testing.assert_allclose(log_softmax(a, axis=1), log_softmax(b, axis=1), rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("singleton", [False, True])
@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_ncm_loo_is_brute_force(metric, singleton):
    X, y, k = _data(singleton=singleton)
    got = loo_ncm_logits(X, y, k, metric)
    _same_up_to_row_constant(got, _brute(lambda: NCMHead(metric=metric), X, y, k))


@pytest.mark.parametrize("singleton", [False, True])
@pytest.mark.parametrize("d", [6, 50])  # d > n: the shrinkage makes Σ invertible
def test_lda_loo_is_brute_force(d, singleton):
    X, y, k = _data(d=d, singleton=singleton)
    shrinkages = (0.05, 0.3, 0.9, 1.0)
    got = loo_lda_logits(X, y, k, shrinkages)
    for a, g in zip(shrinkages, got, strict=True):
        _same_up_to_row_constant(g, _brute(lambda a=a: LDAHead(shrinkage=a), X, y, k))


@pytest.mark.parametrize("singleton", [False, True])
@pytest.mark.parametrize("d", [6, 50])
def test_ridge_loo_is_brute_force(d, singleton):
    X, y, k = _data(d=d, singleton=singleton)
    alphas = (0.01, 1.0, 100.0)
    got = loo_ridge_logits(X, y, k, alphas)
    for a, g in zip(alphas, got, strict=True):
        brute = _brute(lambda a=a: RidgeHead(alphas=(a,)), X, y, k)
        np.testing.assert_array_equal(np.isinf(g), np.isinf(brute))
        np.testing.assert_allclose(np.where(np.isinf(g), 0, g), np.where(np.isinf(brute), 0, brute),
                                   rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("weights", ["distance", "uniform"])
def test_knn_loo_is_brute_force(weights):
    X, y, k = _data()
    ks = (1, 3, 10, 100)
    got = loo_knn_logits(X, y, k, ks, weights, batch_size=7)
    for kk, g in zip(ks, got, strict=True):
        brute = _brute(lambda kk=kk: KNNHead(n_neighbors=kk, weights=weights), X, y, k)
        np.testing.assert_allclose(g, brute, rtol=1e-5, atol=1e-6)


def test_query_rows_subset():
    X, y, k = _data()
    rows = np.array([3, 0, 17])
    full = loo_lda_logits(X, y, k, (0.2,))[0]
    np.testing.assert_allclose(loo_lda_logits(X, y, k, (0.2,), rows=rows)[0], full[rows])
    full = loo_ridge_logits(X, y, k, (1.0,))[0]
    np.testing.assert_allclose(loo_ridge_logits(X, y, k, (1.0,), rows=rows)[0], full[rows])
    np.testing.assert_allclose(loo_ncm_logits(X, y, k, rows=rows), loo_ncm_logits(X, y, k)[rows])
