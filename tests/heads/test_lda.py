"""LDAHead: oracle against sklearn's LinearDiscriminantAnalysis(solver="lsqr") and the formulas."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.covariance import OAS, ledoit_wolf_shrinkage
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from headwise.exceptions import InputError
from headwise.heads import SufficientStats, get_head
from headwise.heads._lda import LDAHead, oas_shrinkage, shrink

from ._helpers import toy_blobs


def _class_centred(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = X.astype(np.float64).copy()
    for c in np.unique(y):
        out[y == c] -= X[y == c].mean(axis=0)
    return out


def test_registered():
    assert isinstance(get_head("lda"), LDAHead)


@pytest.mark.parametrize("n_classes", [2, 3, 5])
@pytest.mark.parametrize("shrinkage", [0.0, 0.05, 0.5, 1.0])
def test_float_shrinkage_matches_sklearn_lsqr(n_classes, shrinkage):
    X, y = toy_blobs(n_per_class=25, n_features=6, n_classes=n_classes)
    Xt = toy_blobs(n_per_class=8, n_features=6, n_classes=n_classes, noise_seed=3)[0] * 0.7
    head = LDAHead(shrinkage=shrinkage).fit(X, y)
    oracle = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrinkage).fit(X, y)
    np.testing.assert_array_equal(head.predict(Xt), oracle.predict(Xt))
    np.testing.assert_allclose(head.predict_proba(Xt), oracle.predict_proba(Xt), atol=1e-6)
    coef, intercept = head.coef_, head.intercept_
    if n_classes == 2:  # sklearn keeps one row: the difference of the two discriminants
        coef, intercept = coef[1:] - coef[:1], intercept[1:] - intercept[:1]
    np.testing.assert_allclose(coef, oracle.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(intercept, oracle.intercept_, rtol=1e-6, atol=1e-8)
    assert head.shrinkage_ == shrinkage


def test_shrinking_pooled_equals_averaging_shrunk_class_covariances():
    # sklearn shrinks every class covariance and averages them with the priors; shrinkage is
    # linear in Σ and the priors sum to one, so that equals shrinking the pooled covariance.
    X, y = toy_blobs(n_per_class=20, n_features=5, n_classes=4)
    oracle = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=0.3, store_covariance=True)
    oracle.fit(X, y)
    stats = SufficientStats.from_data(X, y)
    ours = shrink(stats.within_scatter() / stats.n_samples, 0.3)
    np.testing.assert_allclose(ours, oracle.covariance_, rtol=1e-10, atol=1e-12)


def test_no_shrinkage_matches_sklearn_when_nonsingular(blobs, blobs_test):
    X, y = blobs
    head = LDAHead(shrinkage=None).fit(X, y)
    oracle = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=None).fit(X, y)
    assert head.shrinkage_ == 0.0
    np.testing.assert_array_equal(head.predict(blobs_test[0]), oracle.predict(blobs_test[0]))
    np.testing.assert_allclose(
        head.predict_proba(blobs_test[0]), oracle.predict_proba(blobs_test[0]), atol=1e-6
    )


def test_binary_decision_function_matches_sklearn(blobs, blobs_test):
    X, y = blobs
    keep = y < 2
    head = LDAHead(shrinkage=0.2).fit(X[keep], y[keep])
    oracle = LinearDiscriminantAnalysis(solver="lsqr", shrinkage=0.2).fit(X[keep], y[keep])
    np.testing.assert_allclose(
        head.decision_function(blobs_test[0]), oracle.decision_function(blobs_test[0]), rtol=1e-6
    )


@pytest.mark.parametrize("name", ["auto", "oas"])
def test_oas_is_sklearns_oas_of_the_pooled_class_centred_rows(blobs, name):
    X, y = blobs
    head = LDAHead(shrinkage=name).fit(X, y)
    oracle = OAS(assume_centered=True).fit(_class_centred(X, y))
    assert head.shrinkage_ == pytest.approx(oracle.shrinkage_, rel=1e-10)
    assert 0.0 < head.shrinkage_ < 1.0


def test_oas_formula_on_identity_and_single_feature():
    assert oas_shrinkage(np.eye(4) * 2.0, 10) == 1.0
    assert oas_shrinkage(np.array([[3.0]]), 10) == 0.0


def test_ledoit_wolf_is_computed_in_fit(blobs):
    X, y = blobs
    head = LDAHead(shrinkage="ledoit-wolf").fit(X, y)
    assert head.shrinkage_ == pytest.approx(ledoit_wolf_shrinkage(_class_centred(X, y)), rel=1e-10)
    fixed = LDAHead(shrinkage=head.shrinkage_).fit(X, y)
    np.testing.assert_allclose(head.logits(X), fixed.logits(X), rtol=1e-12)


def test_ledoit_wolf_refuses_incremental_fitting(blobs):
    X, y = blobs
    with pytest.raises(InputError, match="'oas'"):
        LDAHead(shrinkage="ledoit-wolf").partial_fit(X, y)
    fitted = LDAHead(shrinkage="ledoit-wolf").fit(X, y)
    with pytest.raises(InputError, match="incremental"):
        fitted.partial_fit(X, y)
    with pytest.raises(InputError, match="fit_from_stats"):
        LDAHead(shrinkage="ledoit-wolf").fit_from_stats(SufficientStats.from_data(X, y))


def test_uniform_and_given_priors(blobs, blobs_test):
    X, y = blobs
    keep = np.r_[np.flatnonzero(y == 0)[:10], np.flatnonzero(y != 0)]  # unbalanced
    X, y = X[keep], y[keep]
    emp = LDAHead(shrinkage=0.1).fit(X, y)
    uni = LDAHead(shrinkage=0.1, priors="uniform").fit(X, y)
    given = LDAHead(shrinkage=0.1, priors=[2.0, 1.0, 1.0]).fit(X, y)  # normalised
    counts = np.bincount(y)
    np.testing.assert_allclose(uni.priors_, np.full(3, 1 / 3))
    np.testing.assert_allclose(given.priors_, [0.5, 0.25, 0.25])
    np.testing.assert_allclose(emp.priors_, counts / counts.sum())
    np.testing.assert_allclose(uni.coef_, emp.coef_)
    np.testing.assert_allclose(
        uni.intercept_ - emp.intercept_, np.log(1 / 3) - np.log(counts / counts.sum())
    )
    assert np.isfinite(given.logits(blobs_test[0])).all()


def test_bad_priors_and_shrinkage(blobs):
    X, y = blobs
    with pytest.raises(InputError, match="3 non-negative numbers"):
        LDAHead(priors=[0.5, 0.5]).fit(X, y)
    with pytest.raises(InputError, match="'priors' parameter"):
        LDAHead(priors="balanced").fit(X, y)
    for bad in (1.5, -0.1, "lw", True):
        with pytest.raises(InputError, match="'shrinkage' parameter"):
            LDAHead(shrinkage=bad).fit(X, y)


def test_singular_covariance_warns_and_stays_finite():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 10))  # fewer rows than features: Σ is singular
    y = np.array([0, 0, 0, 1, 1, 1])
    with pytest.warns(RuntimeWarning, match="singular"):
        head = LDAHead(shrinkage=None).fit(X, y)
    assert np.isfinite(head.logits(X)).all()
    assert (head.predict(X) == y).all()


def test_shrunk_covariance_does_not_warn():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 10))
    y = np.array([0, 0, 0, 1, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LDAHead().fit(X, y)


def test_zero_within_class_covariance_falls_back():
    X = np.array([[0.0, 1.0], [0.0, 1.0], [2.0, 0.0], [2.0, 0.0]])
    with pytest.warns(RuntimeWarning):
        head = LDAHead(shrinkage=None).fit(X, [0, 0, 1, 1])
    assert head.predict(X).tolist() == [0, 0, 1, 1]


def test_announced_class_without_rows(blobs, blobs_test):
    X, y = blobs
    head = LDAHead().partial_fit(X, y, classes=[0, 1, 2, 3])
    z = head.logits(blobs_test[0])
    assert np.isneginf(z[:, 3]).all() and np.isfinite(z[:, :3]).all()
    ref = LDAHead().fit(X, y)
    np.testing.assert_allclose(z[:, :3], ref.logits(blobs_test[0]), rtol=1e-12)


def test_one_row_per_class_takes_the_identity_not_the_rounding_noise():
    # gram - Σ x xᵀ left 1e-14 of noise, which the solver's relative floor blew up to 1e24 logits
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 12)) * np.exp(rng.uniform(-1, 1, 12)) + 3.0
    Xt = rng.normal(size=(50, 12)) + 3.0
    with pytest.warns(RuntimeWarning, match="singular"):
        head = LDAHead(shrinkage=0.1).fit(X, np.arange(4))
    ref = Xt @ X.T - 0.5 * np.sum(X * X, axis=1)  # the identity covariance
    np.testing.assert_allclose(head.logits(Xt), ref - ref.mean(axis=1, keepdims=True)
                               + head.logits(Xt).mean(axis=1, keepdims=True), rtol=1e-9, atol=1e-9)
