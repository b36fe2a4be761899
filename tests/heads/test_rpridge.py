from __future__ import annotations

import numpy as np
import pytest

from headwise.exceptions import InputError
from headwise.heads import RandomProjectionRidgeHead, RidgeHead

from ._helpers import toy_blobs


def test_equals_ridge_on_the_projected_features():
    X, y = toy_blobs(n_classes=4)
    head = RandomProjectionRidgeHead(n_components=32, alphas=(1.0,)).fit(X, y)
    H = np.maximum(X @ head.projection_, 0.0)
    ref = RidgeHead(alphas=(1.0,)).fit(H, y)
    np.testing.assert_allclose(head.logits(X), ref.logits(H), rtol=1e-9, atol=1e-10)


def test_projection_is_seeded():
    X, y = toy_blobs()
    a = RandomProjectionRidgeHead(n_components=16, random_state=3).fit(X, y)
    b = RandomProjectionRidgeHead(n_components=16, random_state=3).fit(X[::-1], y[::-1])
    c = RandomProjectionRidgeHead(n_components=16, random_state=4).fit(X, y)
    np.testing.assert_array_equal(a.projection_, b.projection_)
    assert not np.array_equal(a.projection_, c.projection_)


def test_partial_fit_with_new_classes_is_exact():
    X, y = toy_blobs(n_classes=5)
    inc = RandomProjectionRidgeHead(n_components=48)
    for chunk in ([0, 1], [2], [3, 4]):
        rows = np.isin(y, chunk)
        inc.partial_fit(X[rows], y[rows])
    batch = RandomProjectionRidgeHead(n_components=48).fit(X, y)
    assert inc.alpha_ == batch.alpha_
    np.testing.assert_allclose(inc.coef_, batch.coef_, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(inc.intercept_, batch.intercept_, rtol=1e-7, atol=1e-9)


def test_bad_width_and_stats_refused():
    X, y = toy_blobs()
    with pytest.raises(InputError, match="'n_components' parameter"):
        RandomProjectionRidgeHead(n_components=0).fit(X, y)
    from headwise.heads import SufficientStats

    with pytest.raises(InputError, match="fit or partial_fit"):
        RandomProjectionRidgeHead().fit_from_stats(SufficientStats.from_data(X, y))


def test_few_rows_take_the_thin_path_and_equal_the_statistics_solve():
    # fit on 40 rows projected to 512 diagonalises a 40 x 40 matrix; partial_fit (statistics
    # only) the 512 x 512 Gram: the same alpha and logits
    X, y = toy_blobs(n_classes=4)
    X, y = X[:40], y[:40]
    thin = RandomProjectionRidgeHead(n_components=512).fit(X, y)
    full = RandomProjectionRidgeHead(n_components=512).partial_fit(X, y)
    assert thin.alpha_ == full.alpha_
    np.testing.assert_allclose(thin.logits(X), full.logits(X), rtol=1e-7, atol=1e-9)
