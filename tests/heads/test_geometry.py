"""Penalty geometries of the logistic probe: one set of whitened rows, a penalty metric per
geometry, and the geometry contest decided on subsamples when it can be."""

from __future__ import annotations

import numpy as np
import pytest

from headwise.heads._geometry import contest_sizes, geometries
from headwise.heads._logistic import LogisticHead
from headwise.heads._softmax import Preprocessor, SoftmaxProblem, class_moments


def _signal_beside_noise(
    n: int, n_loud: int, n_quiet: int, loud: float, signal: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """3 classes; their signal in the first 3 of ``n_quiet`` features of sd 0.05 beside
    ``n_loud`` features of sd ``loud``; not centred."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, n_loud + n_quiet)) * np.r_[np.full(n_loud, loud), np.full(n_quiet, 0.05)] + 2.0
    X[:, n_loud : n_loud + 3] += signal * np.eye(3)[y]
    return X, y


def _scaled(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return _signal_beside_noise(n, 4, 4, 30.0, 0.05, seed)


@pytest.mark.parametrize("kind", ["isotropic", "standardize", "none"])
def test_penalty_metric_on_whitened_rows_is_the_same_problem(kind):
    from headwise.heads._softmax import penalty_metric

    X, y = _scaled(400)
    moments = class_moments(X, y, 3)
    white = Preprocessor.from_moments(*moments, "whiten")
    other = Preprocessor.from_moments(*moments, kind)
    rng = np.random.default_rng(1)
    V_w, c = rng.normal(size=(8, 3)), rng.normal(size=3)
    W = white.T @ V_w  # the raw-space weights both parametrisations describe
    T = np.ones(8) if other.T is None else other.T
    V_o = W / T[:, None]
    c_o = c + (other.shift - white.shift) @ W  # the same logits on raw rows
    on_white = SoftmaxProblem(white.transform(X, np.float64), y, 3).with_metric(
        penalty_metric(white, other))
    on_own = SoftmaxProblem(other.transform(X, np.float64), y, 3)
    for inv_C in (0.1, 10.0):
        f_w, _ = on_white(np.r_[V_w.ravel(), c], inv_C)
        f_o, _ = on_own(np.r_[V_o.ravel(), c_o], inv_C)
        assert f_w == pytest.approx(f_o, rel=1e-10)


def test_isotropic_and_whiten_share_one_whitening():
    X, y = _scaled(300)
    g = geometries(class_moments(X, y, 3), ("isotropic", "whiten", "none"))
    assert g["isotropic"][0] is g["whiten"][0] and g["whiten"][1] is None
    assert g["none"][0] is not g["whiten"][0] and g["none"][1] is None


def test_preconditioned_solve_reaches_the_same_optimum():
    X, y = _scaled(600)
    moments = class_moments(X, y, 3)
    g = geometries(moments, ("isotropic",))
    pre, metric = g["isotropic"]
    prob = SoftmaxProblem(pre.transform(X, np.float64), y, 3).with_metric(metric)
    plain = SoftmaxProblem(pre.transform(X, np.float64), y, 3).with_metric(metric)
    plain._preconditioner = lambda C: None  # type: ignore[method-assign]
    theta0 = np.zeros(8 * 3 + 3)
    a, _ = prob.solve(theta0, 0.01, 5000, 1e-10)
    b, _ = plain.solve(theta0, 0.01, 5000, 1e-10)
    assert prob(a, 100.0)[0] == pytest.approx(plain(b, 100.0)[0], rel=1e-9)


def test_contest_sizes_stay_below_a_quarter_of_the_rows():
    assert contest_sizes(30_000, 3) == []
    for n, k in [(40_000, 3), (90_000, 100), (900_000, 1000), (5_000_000, 10)]:
        sizes = contest_sizes(n, k)
        assert sizes and sum(sizes) <= 0.25 * n and sizes[0] >= max(8192, 50 * k)


def _drowned(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    # the signal in 3 of 40 low-variance features beside 10 of variance 300²: near its default
    # C the isotropic penalty shrinks the signal away (held-out log-loss at chance), whitening
    # finds it, so the contest is clear on a subsample
    return _signal_beside_noise(n, 10, 40, 300.0, 0.08, seed)


def test_contest_decided_on_a_subsample_gives_the_winner_alone():
    X, y = _drowned(40_000)
    head = LogisticHead().fit(X, y)
    # decided on the first subsample (8192 of 36,000 training rows), by more than 2 SE
    assert head.geometry_rows_ == 8192 and abs(head.geometry_evidence_) > 2.0
    assert set(head.geometry_log_losses_) == {"whiten", "isotropic"}
    assert head.preprocess_ == ("whiten" if head.geometry_evidence_ > 0 else "isotropic")
    alone = LogisticHead(preprocess=head.preprocess_).fit(X, y)
    assert alone.C_ == head.C_
    np.testing.assert_allclose(alone.coef_, head.coef_)


def test_whitening_as_a_weight_basis_is_the_transformed_problem():
    X, y = _scaled(500)
    pre = Preprocessor.from_moments(*class_moments(X, y, 3), "whiten")
    Z, basis = pre.rows(X, np.float64)
    assert basis is not None and np.allclose(Z.mean(axis=0), 0.0, atol=1e-9)
    on_basis = SoftmaxProblem(Z, y, 3, basis=basis)
    transformed = SoftmaxProblem(pre.transform(X, np.float64), y, 3)
    theta = np.random.default_rng(2).normal(size=8 * 3 + 3)
    f_b, g_b = on_basis(theta, 0.5)
    f_t, g_t = transformed(theta, 0.5)
    assert f_b == pytest.approx(f_t, rel=1e-10)
    np.testing.assert_allclose(g_b, g_t, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(on_basis.logits(theta), transformed.logits(theta), atol=1e-9)
