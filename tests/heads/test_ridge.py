"""RidgeHead: oracle against sklearn's RidgeClassifier and a brute-force GCV."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import RidgeClassifier

from headwise.exceptions import InputError
from headwise.heads import SufficientStats, get_head
from headwise.heads._ridge import RidgeHead, select_alpha


def _brute_force_gcv(X: np.ndarray, y: np.ndarray, alphas, fit_intercept=True) -> np.ndarray:
    classes = np.unique(y)
    Y = np.where(y[:, None] == classes[None, :], 1.0, -1.0)
    Xc, Yc = (X - X.mean(0), Y - Y.mean(0)) if fit_intercept else (X, Y)
    n, d = X.shape
    out = []
    for a in alphas:
        H = Xc @ np.linalg.solve(Xc.T @ Xc + a * np.eye(d), Xc.T)
        rss = np.sum((Yc - H @ Yc) ** 2)
        out.append(n * rss / (n - np.trace(H)) ** 2)
    return np.array(out)


def _noisy_blobs(seed=0):
    # Overlapping classes so the GCV curve has an interior minimum.
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, 80)
    X = rng.normal(size=(80, 12)) + 0.6 * np.eye(12)[y] * 3 + 2.0
    return X, y


def test_registered():
    assert isinstance(get_head("ridge"), RidgeHead)


def test_default_alphas_are_logspace():
    np.testing.assert_allclose(RidgeHead().alphas, np.logspace(-3, 3, 13))
    assert isinstance(RidgeHead().alphas, tuple)


@pytest.mark.parametrize("alpha", [1e-3, 0.5, 30.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_single_alpha_matches_ridge_classifier(alpha, fit_intercept):
    X, y = _noisy_blobs()
    head = RidgeHead(alphas=(alpha,), fit_intercept=fit_intercept).fit(X, y)
    oracle = RidgeClassifier(alpha=alpha, fit_intercept=fit_intercept).fit(X, y)
    np.testing.assert_allclose(head.coef_, oracle.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(head.intercept_, oracle.intercept_, rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(head.predict(X), oracle.predict(X))
    assert head.alpha_ == alpha


def test_binary_matches_ridge_classifier(blobs, blobs_test):
    X, y = blobs
    keep = y != 1
    head = RidgeHead(alphas=(2.0,)).fit(X[keep], y[keep])
    oracle = RidgeClassifier(alpha=2.0).fit(X[keep], y[keep])
    # sklearn fits one ±1 column; ours are that column and its negative.
    np.testing.assert_allclose(head.coef_[1], np.ravel(oracle.coef_), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(head.coef_[0], -np.ravel(oracle.coef_), rtol=1e-6, atol=1e-9)
    Xt = blobs_test[0]
    np.testing.assert_allclose(
        head.decision_function(Xt), 2.0 * oracle.decision_function(Xt), rtol=1e-6, atol=1e-9
    )
    np.testing.assert_array_equal(head.predict(Xt), oracle.predict(Xt))


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gcv_matches_brute_force(fit_intercept):
    X, y = _noisy_blobs(seed=2)
    alphas = tuple(np.logspace(-3, 4, 15))
    head = RidgeHead(alphas=alphas, fit_intercept=fit_intercept).fit(X, y)
    brute = _brute_force_gcv(X, y, alphas, fit_intercept)
    np.testing.assert_allclose(head.alpha_scores_, brute, rtol=1e-8)
    assert head.alpha_ == alphas[int(np.argmin(brute))]
    oracle = RidgeClassifier(alpha=head.alpha_, fit_intercept=fit_intercept).fit(X, y)
    np.testing.assert_allclose(head.coef_, oracle.coef_, rtol=1e-6, atol=1e-9)


def test_gcv_has_interior_minimum_on_noisy_data():
    X, y = _noisy_blobs(seed=2)
    alphas = tuple(np.logspace(-3, 4, 15))
    head = RidgeHead(alphas=alphas).fit(X, y)
    assert alphas[0] < head.alpha_ < alphas[-1]


def test_gcv_with_more_features_than_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 30))
    y = np.repeat([0, 1], 5)
    head = RidgeHead(alphas=(1e-3, 1.0, 100.0)).fit(X, y)
    brute = _brute_force_gcv(X, y, (1e-3, 1.0, 100.0))
    np.testing.assert_allclose(head.alpha_scores_, brute, rtol=1e-6)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize(("n", "d"), [(12, 40), (40, 80), (60, 64)])
def test_few_rows_solve_on_the_thin_path_exactly(n, d, fit_intercept, monkeypatch):
    # fit with n <= d/2 rows diagonalises the n x n Xc Xcᵀ; fit_from_stats (no rows) the
    # d x d Gram: the same GCV choice, coefficients and RidgeClassifier's solution
    from headwise.heads import _ridge

    calls = []
    thin_eigh = _ridge._thin_eigh
    monkeypatch.setattr(_ridge, "_thin_eigh", lambda Xc: calls.append(Xc.shape) or thin_eigh(Xc))
    rng = np.random.default_rng(n)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, d)) + 0.8 * rng.normal(size=(3, d))[y]
    alphas = (1e-2, 1.0, 30.0)
    thin = RidgeHead(alphas=alphas, fit_intercept=fit_intercept).fit(X, y)
    full = RidgeHead(alphas=alphas, fit_intercept=fit_intercept)
    full.fit_from_stats(SufficientStats.from_data(X, y))
    assert calls == ([(n, d)] if 2 * n <= d else [])  # fit only, and only with few rows
    assert thin.alpha_ == full.alpha_
    np.testing.assert_allclose(thin.alpha_scores_, full.alpha_scores_, rtol=1e-6)
    np.testing.assert_allclose(thin.coef_, full.coef_, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(thin.intercept_, full.intercept_, rtol=1e-7, atol=1e-10)
    oracle = RidgeClassifier(alpha=thin.alpha_, fit_intercept=fit_intercept).fit(X, y)
    np.testing.assert_allclose(thin.coef_, oracle.coef_, rtol=1e-6, atol=1e-9)


def test_gcv_survives_partial_fit():
    X, y = _noisy_blobs(seed=3)
    alphas = tuple(np.logspace(-2, 3, 11))
    batch = RidgeHead(alphas=alphas).fit(X, y)
    inc = RidgeHead(alphas=alphas)
    for part in np.array_split(np.arange(len(y)), 4):
        inc.partial_fit(X[part], y[part])
    np.testing.assert_allclose(inc.alpha_scores_, batch.alpha_scores_, rtol=1e-9)
    assert inc.alpha_ == batch.alpha_
    np.testing.assert_allclose(inc.logits(X), batch.logits(X), rtol=1e-9, atol=1e-12)


def test_val_selection_picks_best_validation_accuracy():
    X, y = _noisy_blobs(seed=4)
    alphas = (1e-3, 1.0, 1e3, 1e6)
    head = RidgeHead(alphas=alphas, alpha_selection="val", validation_fraction=0.25).fit(X, y)
    scores = head.alpha_scores_
    assert scores.shape == (4,) and np.all((0 <= scores) & (scores <= 1))
    best = np.flatnonzero(scores == scores.max())
    assert head.alpha_ == max(alphas[i] for i in best)  # ties go to the larger alpha
    # refitted on all rows with the chosen alpha
    oracle = RidgeClassifier(alpha=head.alpha_).fit(X, y)
    np.testing.assert_allclose(head.coef_, oracle.coef_, rtol=1e-6, atol=1e-9)


def test_val_selection_is_seeded():
    X, y = _noisy_blobs(seed=5)
    alphas = tuple(np.logspace(-3, 3, 7))
    a = RidgeHead(alphas=alphas, alpha_selection="val", random_state=3).fit(X, y)
    b = RidgeHead(alphas=alphas, alpha_selection="val", random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.alpha_scores_, b.alpha_scores_)


def test_val_falls_back_to_gcv_without_holdout_rows():
    X = np.array([[0.0, 1.0], [1.0, 0.0]])
    with pytest.warns(UserWarning, match="GCV"):
        head = RidgeHead(alphas=(0.1, 1.0), alpha_selection="val").fit(X, [0, 1])
    np.testing.assert_allclose(
        head.alpha_scores_, _brute_force_gcv(X, np.array([0, 1]), (0.1, 1.0))
    )


def test_partial_fit_uses_gcv_even_with_val():
    X, y = _noisy_blobs(seed=6)
    alphas = tuple(np.logspace(-2, 2, 5))
    head = RidgeHead(alphas=alphas, alpha_selection="val").partial_fit(X, y)
    np.testing.assert_allclose(head.alpha_scores_, _brute_force_gcv(X, y, alphas), rtol=1e-8)


def test_select_alpha_ties_go_to_larger_alpha():
    assert select_alpha([0.1, 1.0, 10.0], np.array([2.0, 1.0, 1.0]), higher_is_better=False) == 2
    assert select_alpha([10.0, 1.0, 0.1], np.array([0.5, 0.9, 0.9]), higher_is_better=True) == 1
    near = np.array([1.0, 1.0 + 1e-13, 3.0])
    assert select_alpha([0.1, 1.0, 10.0], near, higher_is_better=False) == 1


def test_announced_class_without_rows(blobs, blobs_test):
    X, y = blobs
    head = RidgeHead(alphas=(1.0,)).partial_fit(X, y, classes=[0, 1, 2, 3])
    ref = RidgeHead(alphas=(1.0,)).fit(X, y)
    z = head.logits(blobs_test[0])
    assert np.isneginf(z[:, 3]).all()
    np.testing.assert_allclose(z[:, :3], ref.logits(blobs_test[0]), rtol=1e-12)


def test_fit_from_stats(blobs, blobs_test):
    X, y = blobs
    head = RidgeHead().fit_from_stats(SufficientStats.from_data(X, y))
    np.testing.assert_allclose(
        head.logits(blobs_test[0]), RidgeHead().fit(X, y).logits(blobs_test[0]), rtol=1e-10
    )


@pytest.mark.parametrize(
    "params, match",
    [
        ({"alphas": ()}, "'alphas' parameter"),
        ({"alphas": (1.0, -1.0)}, "'alphas' parameter"),
        ({"alphas": (0.0,)}, r"\(0, inf\)"),
        ({"alpha_selection": "loo"}, "'alpha_selection' parameter"),
        ({"validation_fraction": 1.0}, "'validation_fraction' parameter"),
    ],
)
def test_bad_parameters(blobs, params, match):
    with pytest.raises(InputError, match=match):
        RidgeHead(**params).fit(*blobs)
