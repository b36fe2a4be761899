"""GaussianNBHead: oracle against sklearn's GaussianNB (batch fit)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.naive_bayes import GaussianNB

from headwise.exceptions import InputError
from headwise.heads import get_head
from headwise.heads._nb import GaussianNBHead

from ._helpers import toy_blobs


def test_registered():
    assert isinstance(get_head("nb"), GaussianNBHead)


@pytest.mark.parametrize("var_smoothing", [1e-9, 1e-3, 0.5])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_matches_sklearn_batch_fit(var_smoothing, n_classes):
    X, y = toy_blobs(n_per_class=20, n_features=7, n_classes=n_classes)
    Xt = toy_blobs(n_per_class=6, n_features=7, n_classes=n_classes, noise_seed=2)[0]
    head = GaussianNBHead(var_smoothing=var_smoothing).fit(X, y)
    oracle = GaussianNB(var_smoothing=var_smoothing).fit(X, y)
    np.testing.assert_allclose(head.theta_, oracle.theta_, rtol=1e-6)
    np.testing.assert_allclose(head.var_, oracle.var_, rtol=1e-6)
    assert head.epsilon_ == pytest.approx(oracle.epsilon_, rel=1e-6)
    np.testing.assert_allclose(head.class_prior_, oracle.class_prior_)
    np.testing.assert_allclose(head.predict_proba(Xt), oracle.predict_proba(Xt), atol=1e-6)
    np.testing.assert_allclose(
        head.predict_log_proba(Xt), oracle.predict_log_proba(Xt), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_array_equal(head.predict(Xt), oracle.predict(Xt))


def test_given_priors_match_sklearn(blobs, blobs_test):
    X, y = blobs
    priors = [0.2, 0.3, 0.5]
    head = GaussianNBHead(priors=priors).fit(X, y)
    oracle = GaussianNB(priors=priors).fit(X, y)
    np.testing.assert_allclose(
        head.predict_proba(blobs_test[0]), oracle.predict_proba(blobs_test[0]), atol=1e-6
    )


def test_incremental_equals_batch_unlike_sklearn_partial_fit(blobs, blobs_test):
    X, y = blobs
    chunks = np.array_split(np.arange(len(y)), 3)
    ours = GaussianNBHead()
    theirs = GaussianNB()
    for part in chunks:
        ours.partial_fit(X[part], y[part], classes=[0, 1, 2])
        theirs.partial_fit(X[part], y[part], classes=[0, 1, 2])
    batch = GaussianNBHead().fit(X, y)
    # ours recomputes epsilon from the full statistics ...
    assert ours.epsilon_ == pytest.approx(batch.epsilon_, rel=1e-12)
    np.testing.assert_allclose(ours.var_, batch.var_, rtol=1e-9)
    np.testing.assert_allclose(ours.logits(blobs_test[0]), batch.logits(blobs_test[0]), rtol=1e-9)
    # ... while sklearn 1.9 takes it from the latest chunk alone.
    last = GaussianNB().fit(X[chunks[-1]], y[chunks[-1]])
    assert theirs.epsilon_ == pytest.approx(last.epsilon_, rel=1e-12)
    assert theirs.epsilon_ != pytest.approx(batch.epsilon_, rel=1e-3)


def test_tiny_variance_feature_is_precise():
    # A feature constant within each class: its variance is epsilon only, and the logits must
    # still match sklearn's direct (x - θ)² / σ² evaluation.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)) + 5.0
    y = np.repeat([0, 1], 20)
    X[:, 2] = np.where(y == 0, 3.0, 3.5)
    Xt = X[:5] + np.array([0.0, 0.0, 1e-4])
    head = GaussianNBHead().fit(X, y)
    oracle = GaussianNB().fit(X, y)
    np.testing.assert_allclose(head.predict_log_proba(Xt), oracle.predict_log_proba(Xt), atol=1e-6)


def test_constant_data_without_smoothing_stays_finite():
    X = np.ones((4, 2))
    head = GaussianNBHead(var_smoothing=0.0).fit(X, [0, 0, 1, 1])
    assert np.all(np.isfinite(head.var_)) and np.all(head.var_ > 0)


def test_announced_class_without_rows(blobs, blobs_test):
    X, y = blobs
    head = GaussianNBHead().partial_fit(X, y, classes=[0, 1, 2, 3])
    z = head.logits(blobs_test[0])
    assert np.isneginf(z[:, 3]).all()
    np.testing.assert_allclose(
        z[:, :3], GaussianNBHead().fit(X, y).logits(blobs_test[0]), rtol=1e-12
    )


@pytest.mark.parametrize(
    "params, match",
    [
        ({"priors": [0.5, 0.5]}, "one prior per class"),
        ({"priors": [0.5, 0.4, 0.4]}, "sum to 1"),
        ({"priors": [1.2, -0.1, -0.1]}, "non-negative"),
        ({"var_smoothing": -1.0}, "'var_smoothing' parameter"),
    ],
)
def test_bad_parameters(blobs, params, match):
    with pytest.raises(InputError, match=match):
        GaussianNBHead(**params).fit(*blobs)
