"""Conformal coverage is at least 1 - α on average over a fixed seed set, for any α, method,
calibration size and Mondrian choice hypothesis picks; and thresholds are monotone in α."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from headwise.heads import NCMHead
from headwise.trust import ConformalClassifier, conformal_quantile, set_coverage

SEEDS = range(25)
_CENTRES = np.random.default_rng(7).normal(scale=1.5, size=(4, 5))


def _draw(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    return _CENTRES[y] + rng.normal(size=(n, 5)), y


_HEAD = NCMHead(metric="euclidean").fit(*_draw(400, 10_000))  # fixed head: only the split varies


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    alpha=st.sampled_from([0.05, 0.1, 0.2, 0.3]),
    method=st.sampled_from(["lac", "aps", "raps"]),
    mondrian=st.booleans(),
    n_cal=st.integers(min_value=40, max_value=400),
)
def test_average_coverage_at_least_one_minus_alpha(alpha, method, mondrian, n_cal):
    cov = []
    for seed in SEEDS:
        Xc, yc = _draw(n_cal, seed)
        Xs, ys = _draw(500, 5000 + seed)
        cp = ConformalClassifier(_HEAD, method=method, mondrian=mondrian).calibrate(Xc, yc)
        cov.append(set_coverage(cp.predict_set(Xs, alpha), ys)["coverage"])
    mean, se = np.mean(cov), np.std(cov, ddof=1) / np.sqrt(len(cov))
    assert mean >= 1 - alpha - 3 * se - 1e-12


@settings(max_examples=50, deadline=None, derandomize=True)
@given(
    scores=st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=60),
    a=st.floats(0.01, 0.98),
    b=st.floats(0.01, 0.98),
)
def test_quantile_monotone_and_is_an_order_statistic(scores, a, b):
    lo, hi = sorted((a, b))
    q_lo, q_hi = conformal_quantile(scores, lo), conformal_quantile(scores, hi)
    assert q_lo >= q_hi
    assert q_lo == np.inf or q_lo in scores
    # at least ceil((n+1)(1-α)) of the n scores are <= the quantile, unless it is +inf
    n = len(scores)
    if q_hi != np.inf:
        assert np.sum(np.asarray(scores) <= q_hi) >= np.ceil((n + 1) * (1 - hi) - 1e-9)
