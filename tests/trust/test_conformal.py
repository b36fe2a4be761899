"""Conformal sets: hand-computed quantiles and scores, coverage on toy data, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from headwise.exceptions import InputError
from headwise.heads import LDAHead, LogisticHead, NCMHead
from headwise.trust import (
    ConformalClassifier,
    conformal_quantile,
    nonconformity_scores,
    set_coverage,
)

from ._toy import overlapping_blobs

SEEDS = range(40)


def test_quantile_hand_computed():
    scores = [0.3, 0.1, 0.7, 0.5, 0.9, 0.2, 0.4, 0.8, 0.6]  # n = 9
    # alpha 0.2: ceil(10 * 0.8) = 8 -> 8th smallest = 0.8
    assert conformal_quantile(scores, 0.2) == 0.8
    # alpha 0.1: ceil(10 * 0.9) = 9 -> the largest
    assert conformal_quantile(scores, 0.1) == 0.9
    # alpha 0.05: ceil(10 * 0.95) = 10 > 9 -> +inf (every class)
    assert conformal_quantile(scores, 0.05) == np.inf
    # alpha 0.5: ceil(5) = 5 -> 0.5
    assert conformal_quantile(scores, 0.5) == 0.5
    assert conformal_quantile([], 0.5) == np.inf


def test_scores_hand_computed():
    p = np.array([[0.5, 0.2, 0.3], [0.25, 0.5, 0.25]])
    assert np.allclose(nonconformity_scores(p, "lac"), 1 - p)
    aps = nonconformity_scores(p, "aps")
    assert np.allclose(aps, [[0.5, 1.0, 0.8], [0.75, 0.5, 0.75]])  # ties share the score
    raps = nonconformity_scores(p, "raps", lam=0.1, k_reg=1)
    # ranks: row 0 -> [1, 3, 2]; row 1 -> [2, 1, 2] (ties share the rank)
    assert np.allclose(raps, aps + 0.1 * np.array([[0, 2, 1], [1, 0, 1]]))
    rand = nonconformity_scores(p, "aps", u=np.array([0.5, 0.0]))
    assert np.allclose(rand, [[0.25, 0.9, 0.65], [0.5, 0.0, 0.5]])


def _split(seed: int, n_train=600, n_cal=400, n_test=1000):
    X, y = overlapping_blobs(n_train + n_cal + n_test, seed=seed)
    a, b = n_train, n_train + n_cal
    return (X[:a], y[:a]), (X[a:b], y[a:b]), (X[b:], y[b:])


@pytest.mark.parametrize("method", ["lac", "aps", "raps"])
@pytest.mark.parametrize("mondrian", [False, True])
def test_coverage_on_average_over_seeds(method, mondrian):
    alpha = 0.1
    cov, sizes = [], []
    for seed in SEEDS:
        (Xt, yt), (Xc, yc), (Xs, ys) = _split(seed)
        cp = ConformalClassifier(LDAHead(), method=method, mondrian=mondrian).fit(Xt, yt)
        sets = cp.calibrate(Xc, yc).predict_set(Xs, alpha)
        r = set_coverage(sets, ys)
        cov.append(r["coverage"])
        sizes.append(r["mean_size"])
    mean, se = np.mean(cov), np.std(cov, ddof=1) / np.sqrt(len(cov))
    assert mean >= 1 - alpha - 3 * se
    # not trivially conservative: at most 1 - alpha + 1/(n_cal + 1) in expectation (LAC, marginal)
    if method == "lac" and not mondrian:
        assert mean <= 1 - alpha + 1 / 401 + 3 * se
    assert 0.5 < np.mean(sizes) < 5.0  # informative: neither empty nor every class


def test_mondrian_covers_every_class():
    alpha = 0.1
    per_class = np.zeros(5)
    for seed in SEEDS:
        (Xt, yt), (Xc, yc), (Xs, ys) = _split(seed, n_cal=1000)
        cp = ConformalClassifier(NCMHead(), mondrian=True).fit(Xt, yt).calibrate(Xc, yc)
        sets = cp.predict_set(Xs, alpha)
        per_class += [sets[ys == k, k].mean() for k in range(5)]
    assert (per_class / len(SEEDS)).min() >= 1 - alpha - 0.02


def test_randomized_aps_is_near_exact():
    alpha = 0.2
    cov = []
    for seed in SEEDS:
        (Xt, yt), (Xc, yc), (Xs, ys) = _split(seed)
        cp = ConformalClassifier(LDAHead(), method="aps", randomized=True, random_state=seed)
        cov.append(set_coverage(cp.fit(Xt, yt).calibrate(Xc, yc).predict_set(Xs, alpha), ys)["coverage"])
    assert abs(np.mean(cov) - (1 - alpha)) < 0.015


def test_string_labels_and_any_head():
    (Xt, yt), (Xc, yc), (Xs, _) = _split(0)
    names = np.array(list("abcde"))
    cp = ConformalClassifier(LogisticHead(max_iter=50), method="aps").fit(Xt, names[yt])
    sets = cp.calibrate(Xc, names[yc]).predict_set(Xs, 0.1)
    assert sets.shape == (Xs.shape[0], 5) and sets.dtype == bool
    assert cp.classes_.tolist() == list("abcde")


def test_larger_alpha_gives_smaller_sets():
    (Xt, yt), (Xc, yc), (Xs, _) = _split(1)
    cp = ConformalClassifier(LDAHead(), method="aps").fit(Xt, yt).calibrate(Xc, yc)
    s1, s2 = cp.predict_set(Xs, 0.05), cp.predict_set(Xs, 0.3)
    assert np.all(s2 <= s1)


def test_errors():
    (Xt, yt), (Xc, yc), (Xs, _) = _split(0)
    cp = ConformalClassifier(LDAHead()).fit(Xt, yt)
    with pytest.raises(NotFittedError, match="calibrate"):
        cp.predict_set(Xs, 0.1)
    cp.calibrate(Xc, yc)
    for bad in (0.0, 1.0, -0.1, 1.5, "0.1", True):
        with pytest.raises(InputError, match=r"open interval \(0, 1\)"):
            cp.predict_set(Xs, bad)
    with pytest.raises(InputError, match="method"):
        ConformalClassifier(LDAHead(), method="bogus").fit(Xt, yt).calibrate(Xc, yc)
    with pytest.raises(InputError, match="not classes of the head"):
        cp.calibrate(Xc, yc + 10)
    with pytest.raises(InputError, match="temperature"):
        ConformalClassifier(LDAHead(), temperature=0.0).fit(Xt, yt).calibrate(Xc, yc)
    with pytest.raises(InputError, match="rows"):
        cp.calibrate(Xc, yc[:-1])
