"""Long-tail corrections: post-hoc logit adjustment, balanced priors, the balanced-softmax loss."""

from __future__ import annotations

import numpy as np
import pytest

from headwise.heads import (
    GaussianNBHead,
    LDAHead,
    LogitAdjustedHead,
    get_head,
    load_head,
    save_head,
)
from headwise.heads._logit_adjust import balanced_accuracy, balanced_holdout


def _long_tail(seed: int = 0, K: int = 5, n_max: int = 200, R: float = 20.0):
    """Overlapping Gaussian classes with an exponential profile n_c = n_max · R^(-c/(K-1))."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=1.2, size=(K, 6))
    counts = np.maximum((n_max * R ** (-np.arange(K) / (K - 1))).astype(int), 2)
    y = np.repeat(np.arange(K), counts)
    X = centres[y] + rng.normal(size=(y.size, 6))
    yt = np.repeat(np.arange(K), 200)  # balanced test rows
    Xt = centres[yt] + rng.normal(size=(yt.size, 6))
    return X, y, Xt, yt


@pytest.mark.parametrize("base", ["lda", "logistic", "ridge", "knn"])
def test_tau_zero_is_the_plain_head(base: str) -> None:
    X, y, Xt, _ = _long_tail()
    adjusted = LogitAdjustedHead(base=base, tau=0.0).fit(X, y)
    plain = get_head(base).fit(X, y)
    np.testing.assert_array_equal(adjusted.logits(Xt), plain.logits(Xt))


def test_adjustment_is_minus_tau_log_prior() -> None:
    X, y, Xt, _ = _long_tail()
    head = LogitAdjustedHead(base="lda", tau=1.5).fit(X, y)
    plain = LDAHead().fit(X, y)
    prior = np.bincount(y) / y.size
    np.testing.assert_allclose(head.logits(Xt), plain.logits(Xt) - 1.5 * np.log(prior))


def test_chosen_tau_improves_balanced_accuracy_on_long_tail() -> None:
    wins = 0
    for seed in range(5):
        X, y, Xt, yt = _long_tail(seed)
        head = LogitAdjustedHead(base="logistic").fit(X, y)
        plain = get_head("logistic").fit(X, y)
        assert head.tau_ == float(head._grid()[int(np.argmax(head.tau_scores_))])
        a = balanced_accuracy(head.predict(Xt), yt, 5)
        b = balanced_accuracy(plain.predict(Xt), yt, 5)
        wins += a > b
    assert wins >= 4


def test_balanced_holdout_takes_equal_rows_per_class() -> None:
    codes = np.repeat(np.arange(4), [100, 40, 10, 2])
    tr, va = balanced_holdout(codes, 0.2, 0)
    per = np.bincount(codes[va], minlength=4)
    assert per.tolist() == [8, 8, 8, 1]  # ceil(0.2 · 152 / 4) = 8 each; the 2-row class keeps one
    assert np.intersect1d(tr, va).size == 0 and tr.size + va.size == codes.size


def test_save_load_nested_logistic(tmp_path) -> None:
    X, y, Xt, _ = _long_tail()
    head = LogitAdjustedHead(base="logistic", base_params={"C": 0.1}).fit(X, y)
    loaded = load_head(save_head(head, tmp_path / "la.safetensors"))
    np.testing.assert_array_equal(loaded.logits(Xt), head.logits(Xt))
    assert loaded.base_.C_ == 0.1


def test_uniform_priors_lda_and_nb() -> None:
    X, y, Xt, _ = _long_tail()
    for cls in (LDAHead, GaussianNBHead):
        emp, uni = cls().fit(X, y), cls(priors="uniform").fit(X, y)
        prior = np.bincount(y) / y.size
        diff = uni.logits(Xt) - emp.logits(Xt)
        # only the log-prior term changes: log(1/K) - log π_c, the same on every row
        np.testing.assert_allclose(diff, np.broadcast_to(np.log(1 / 5) - np.log(prior), diff.shape), atol=1e-8)
    with pytest.raises(Exception, match="uniform"):
        GaussianNBHead(priors="flat").fit(X, y)


def test_balanced_softmax_solves_its_own_objective() -> None:
    """Oracle: minimise Σ CE(xW + b + log π) + ||W||²/(2C) directly; predict with xW + b."""
    from scipy.optimize import minimize
    from scipy.special import log_softmax

    from headwise.heads import LogisticHead

    X, y, Xt, _ = _long_tail(K=3, n_max=60)
    K, d, C = 3, X.shape[1], 0.5
    log_pi = np.log(np.bincount(y) / y.size)

    def f(theta: np.ndarray) -> float:
        W, b = theta[: d * K].reshape(d, K), theta[d * K :]
        lp = log_softmax(X @ W + b + log_pi, axis=1)
        return float(-lp[np.arange(y.size), y].sum() + 0.5 / C * np.sum(W * W))

    res = minimize(f, np.zeros(d * K + K), method="BFGS", options={"gtol": 1e-9})
    W, b = res.x[: d * K].reshape(d, K), res.x[d * K :]
    head = LogisticHead(C=C, preprocess="none", loss="balanced_softmax", tol=1e-10, max_iter=5000)
    head.fit(X, y)
    ref = Xt @ W + b
    got = head.logits(Xt)
    np.testing.assert_allclose(got - got.mean(1, keepdims=True), ref - ref.mean(1, keepdims=True), atol=1e-4)


def test_balanced_softmax_helps_the_tail() -> None:
    from headwise.heads import LogisticHead

    gains = []
    for seed in range(4):
        X, y, Xt, yt = _long_tail(seed)
        a = balanced_accuracy(LogisticHead().fit(X, y).predict(Xt), yt, 5)
        b = balanced_accuracy(LogisticHead(loss="balanced_softmax").fit(X, y).predict(Xt), yt, 5)
        gains.append(b - a)
    assert np.mean(gains) > 0
