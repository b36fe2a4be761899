"""The numpy L-BFGS of the few-row logistic solves: minima of convex objectives against closed
forms and scipy, and its stopping rules."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import logsumexp

from headwise.heads._lbfgs import lbfgs


def _quadratic(seed=0, n=40, cond=1e4):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    A = (Q * np.geomspace(1.0, cond, n)) @ Q.T
    b = rng.normal(size=n)
    return A, b, (lambda x: (0.5 * float(x @ A @ x) - float(b @ x), A @ x - b))


@pytest.mark.parametrize("cond", [1.0, 1e2, 1e4])
def test_ill_conditioned_quadratic_reaches_its_closed_form_minimum(cond):
    A, b, fun = _quadratic(cond=cond)
    # it stops on the gradient test or, as scipy, once a step lowers f by under 64 eps of it
    x, n_iter = lbfgs(fun, np.zeros(b.size), 2000, lambda g: np.abs(g).max() < 1e-9)
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-5, atol=1e-6)
    assert 0 < n_iter < 2000


def test_penalised_softmax_matches_scipy():
    rng = np.random.default_rng(1)
    n, d, k = 60, 8, 4
    X, y = rng.normal(size=(n, d)), rng.integers(0, k, n)

    def fun(w):
        W = w.reshape(d, k)
        Z = X @ W
        lse = logsumexp(Z, axis=1)
        P = np.exp(Z - lse[:, None])
        P[np.arange(n), y] -= 1.0
        return (float(np.sum(lse - Z[np.arange(n), y])) + 0.5 * float(w @ w),
                (X.T @ P).ravel() + w)

    x, _ = lbfgs(fun, np.zeros(d * k), 500, lambda g: np.abs(g).max() < 1e-10)
    ref = minimize(fun, np.zeros(d * k), jac=True, method="L-BFGS-B",
                   options={"gtol": 1e-12, "ftol": 0.0, "maxiter": 5000}).x
    np.testing.assert_allclose(x, ref, atol=1e-6)  # both stop on a 64-eps stall near here


def test_a_start_that_already_passes_takes_no_iteration():
    _, b, fun = _quadratic()
    x0 = np.ones(b.size)
    x, n_iter = lbfgs(fun, x0, 100, lambda g: True)
    assert n_iter == 0 and np.array_equal(x, x0)


def test_max_iter_is_respected_and_the_value_never_rises():
    _, b, fun = _quadratic(cond=1e6)
    values = []

    def tracked(x):
        f, g = fun(x)
        values.append(f)
        return f, g

    x, n_iter = lbfgs(tracked, np.zeros(b.size), 5, lambda g: False)
    assert n_iter == 5
    assert fun(x)[0] <= fun(np.zeros(b.size))[0]


def test_a_stalled_solve_stops():
    # a flat objective: no decrease is possible, the solve stops instead of running max_iter
    x, n_iter = lbfgs(lambda x: (1.0, np.full(x.size, 1e-3)), np.zeros(3), 1000, lambda g: False)
    assert n_iter < 1000 and np.isfinite(x).all()
