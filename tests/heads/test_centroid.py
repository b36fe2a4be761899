"""NCMHead: oracle against sklearn's NearestCentroid and the closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import NearestCentroid

from headwise.exceptions import InputError
from headwise.heads import SufficientStats, get_head
from headwise.heads._centroid import NCMHead


def test_registered():
    assert isinstance(get_head("ncm"), NCMHead)


def test_euclidean_matches_nearest_centroid(blobs, blobs_test):
    X, y = blobs
    Xt = blobs_test[0] * 1.5  # push some rows between centroids
    head = NCMHead(metric="euclidean").fit(X, y)
    oracle = NearestCentroid().fit(X, y)
    np.testing.assert_allclose(head.centroids_, oracle.centroids_, rtol=1e-12)
    np.testing.assert_array_equal(head.predict(Xt), oracle.predict(Xt))


def test_euclidean_logits_are_half_negative_squared_distance(blobs, blobs_test):
    X, y = blobs
    head = NCMHead(metric="euclidean").fit(X, y)
    Xt = blobs_test[0]
    means = np.stack([X[y == c].mean(axis=0) for c in range(3)])
    expected = -0.5 * ((Xt[:, None, :] - means[None]) ** 2).sum(axis=2)
    np.testing.assert_allclose(head.logits(Xt), expected, rtol=1e-9, atol=1e-9)


def test_cosine_uses_normalised_mean_of_raw_rows(blobs, blobs_test):
    X, y = blobs
    head = NCMHead().fit(X, y)
    Xt = blobs_test[0]
    means = np.stack([X[y == c].mean(axis=0) for c in range(3)])  # mean of raw x ...
    means /= np.linalg.norm(means, axis=1, keepdims=True)  # ... then normalised
    expected = (Xt / np.linalg.norm(Xt, axis=1, keepdims=True)) @ means.T
    np.testing.assert_allclose(head.logits(Xt), expected, rtol=1e-12)
    assert np.all(np.abs(head.logits(Xt)) <= 1.0 + 1e-12)


def test_cosine_zero_row_scores_zero(blobs):
    head = NCMHead().fit(*blobs)
    np.testing.assert_array_equal(head.logits(np.zeros((1, 8))), np.zeros((1, 3)))


def test_string_labels(blobs):
    X, y = blobs
    labels = np.array(["x", "y", "z"])[y]
    head = NCMHead().fit(X, labels)
    assert set(head.predict(X)) <= {"x", "y", "z"}


def test_announced_class_without_rows_is_never_predicted(blobs, blobs_test):
    X, y = blobs
    head = NCMHead().partial_fit(X, y, classes=[0, 1, 2, 7])
    assert head.classes_.tolist() == [0, 1, 2, 7]
    z = head.logits(blobs_test[0])
    assert np.all(np.isneginf(z[:, 3]))
    assert np.all(head.predict_proba(blobs_test[0])[:, 3] == 0.0)
    assert 7 not in head.predict(blobs_test[0])


def test_partial_fit_with_one_class_so_far(blobs):
    X, y = blobs
    head = NCMHead().partial_fit(X[y == 0], y[y == 0])
    assert head.predict(X[:3]).tolist() == [0, 0, 0]
    head.partial_fit(X[y != 0], y[y != 0])
    np.testing.assert_allclose(head.logits(X), NCMHead().fit(X, y).logits(X), rtol=1e-12)


def test_fit_from_merged_stats_equals_fit(blobs, blobs_test):
    X, y = blobs
    stats = SufficientStats.from_data(X[:40], y[:40]) + SufficientStats.from_data(X[40:], y[40:])
    a = NCMHead().fit_from_stats(stats)
    b = NCMHead().fit(X, y)
    assert a.n_features_in_ == 8
    np.testing.assert_allclose(a.logits(blobs_test[0]), b.logits(blobs_test[0]), rtol=1e-12)


def test_fit_from_stats_needs_two_classes(blobs):
    X, y = blobs
    with pytest.raises(InputError, match="class"):
        NCMHead().fit_from_stats(SufficientStats.from_data(X[y == 0], y[y == 0]))
    with pytest.raises(InputError, match="SufficientStats"):
        NCMHead().fit_from_stats((X, y))


def test_bad_metric(blobs):
    with pytest.raises(InputError, match="'metric' parameter of NCMHead"):
        NCMHead(metric="manhattan").fit(*blobs)
