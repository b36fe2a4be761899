"""Held-out paths of the closed-form heads: every setting equals a refit on the training part
(up to a constant per row)."""

from __future__ import annotations

import numpy as np
import pytest

from headwise.heads import get_head
from headwise.heads._heldout import (
    knn_heldout_logits,
    lda_heldout_path,
    pooled_oas,
    ridge_heldout_path,
)
from headwise.heads._lda import oas_shrinkage


def _data(n=90, d=12, k=4, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(k), n // k)
    X = rng.normal(size=(y.size, d)) * np.exp(rng.uniform(-1, 1, d)) + 2.0 * rng.normal(size=(k, d))[y]
    perm = rng.permutation(y.size)
    return X[perm] + 3.0, y[perm]


def _row_centred(z):
    z = np.where(np.isneginf(z), np.nan, z)
    return z - np.nanmean(z, axis=1, keepdims=True)


def _split(y, seed=0):
    rng = np.random.default_rng(seed)
    held = np.sort(rng.choice(y.size, y.size // 3, replace=False))
    return np.setdiff1d(np.arange(y.size), held), held


@pytest.mark.parametrize("a", [0.001, 0.1, 0.5, 1.0])
def test_lda_path_equals_refits(a):
    X, y = _data()
    tr, va = _split(y)
    z = lda_heldout_path(X, y, 4, tr, va)(a)
    ref = get_head("lda", shrinkage=a).fit(X[tr], y[tr]).logits(X[va])
    np.testing.assert_allclose(_row_centred(z), _row_centred(ref), rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("a", [0.1, 1.0])
def test_lda_path_with_one_training_row_per_class_takes_the_identity(a):
    # no spread within any class: a zero covariance, which LDA floors to the identity (the
    # path did 1/0, and the NaNs crashed auto's stack on 2 rows per class)
    X, y = _data(n=8, k=4)
    tr = np.array([np.flatnonzero(y == c)[0] for c in range(4)])
    va = np.setdiff1d(np.arange(y.size), tr)
    z = lda_heldout_path(X, y, 4, tr, va)(a)
    mu = X[tr]  # each class's one row is its mean
    ref = X[va] @ mu.T - 0.5 * np.sum(mu * mu, axis=1)
    np.testing.assert_allclose(_row_centred(z), _row_centred(ref), rtol=1e-9, atol=1e-9)


def test_lda_path_gives_a_class_without_training_rows_minus_inf():
    X, y = _data()
    tr, va = _split(y)
    tr = tr[y[tr] != 2]
    z = lda_heldout_path(X, y, 4, tr, va)(0.2)
    assert np.isneginf(z[:, 2]).all() and np.isfinite(np.delete(z, 2, axis=1)).all()


@pytest.mark.parametrize("alpha", [1e-3, 1.0, 100.0])
@pytest.mark.parametrize("n", [90, 20])  # 20 rows of 12 features: the thin route with d < 2n
def test_ridge_path_equals_refits(alpha, n):
    X, y = _data(n=n)
    tr, va = _split(y)
    z = ridge_heldout_path(X, y, 4, tr, va)(alpha)
    ref = get_head("ridge", alphas=(alpha,)).fit(X[tr], y[tr]).logits(X[va])
    np.testing.assert_allclose(z, ref, rtol=1e-7, atol=1e-8)


def test_ridge_path_gives_a_class_without_training_rows_minus_inf():
    X, y = _data()
    tr, va = _split(y)
    tr = tr[y[tr] != 0]
    z = ridge_heldout_path(X, y, 4, tr, va)(1.0)
    ref = get_head("ridge", alphas=(1.0,)).fit(X[tr], y[tr]).logits(X[va])
    assert np.isneginf(z[:, 0]).all()
    np.testing.assert_allclose(z[:, 1:], ref, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("weights", ["distance", "uniform"])
def test_knn_logits_equal_refits(weights):
    X, y = _data()
    tr, va = _split(y)
    ks = [1, 3, 10, 500]
    for k, z in zip(ks, knn_heldout_logits(X, y, 4, ks, weights, tr, va), strict=True):
        ref = get_head("knn", n_neighbors=k, weights=weights).fit(X[tr], y[tr]).logits(X[va])
        np.testing.assert_allclose(z, ref, rtol=1e-6, atol=1e-6)


def test_pooled_oas_is_the_lda_heads_auto_shrinkage():
    X, y = _data()
    R = X - np.stack([X[y == c].mean(axis=0) for c in range(4)])[y]
    assert pooled_oas(X, y, 4) == pytest.approx(oas_shrinkage(R.T @ R / y.size, y.size))
    assert pooled_oas(X, y, 4) == pytest.approx(get_head("lda").fit(X, y).shrinkage_)
