"""Exact unlearning: subtracting rows from sufficient statistics equals never adding them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from headwise.exceptions import InputError
from headwise.heads import LDAHead, NCMHead, RidgeHead, SufficientStats

SETTINGS = settings(max_examples=30, deadline=None)


@st.composite
def base_and_extra(draw: st.DrawFn) -> dict[str, Any]:
    """Base rows plus extra rows (possibly of classes the base lacks) to add and remove again."""
    seed = draw(st.integers(0, 2**32 - 1))
    d = draw(st.integers(1, 6))
    n_base = draw(st.integers(2, 30))
    n_extra = draw(st.integers(1, 12))
    text = draw(st.booleans())
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.5, 3.0)
    X = rng.normal(size=(n_base + n_extra, d)) * scale + rng.normal(size=d)
    codes = np.r_[rng.integers(0, 3, n_base), rng.integers(0, 6, n_extra)]  # 3..5: new classes
    y = np.array(list("abcdef"))[codes] if text else codes * 7
    return {"X": X, "y": y, "n_base": n_base, "gram": draw(st.booleans()), "sq": draw(st.booleans())}


def _assert_same(a: SufficientStats, b: SufficientStats) -> None:
    np.testing.assert_array_equal(a.classes, b.classes)
    np.testing.assert_array_equal(a.counts, b.counts)
    scale = max(1.0, float(np.abs(b.sums).max(initial=0.0)))
    np.testing.assert_allclose(a.sums, b.sums, rtol=0, atol=1e-10 * scale)
    for name in ("sq_sums", "gram"):
        va, vb = getattr(a, name), getattr(b, name)
        assert (va is None) == (vb is None)
    if a.sq_sums is not None:
        np.testing.assert_allclose(a.sq_sums, b.sq_sums, rtol=0, atol=1e-9 * scale**2)
    if a.gram is not None:
        np.testing.assert_allclose(a.gram_full, b.gram_full, rtol=0, atol=1e-9 * scale**2)


@SETTINGS
@given(problem=base_and_extra())
def test_add_then_remove_equals_never_added(problem: dict[str, Any]) -> None:
    X, y, n = problem["X"], problem["y"], problem["n_base"]
    kw = {"gram": problem["gram"], "squares": problem["sq"]}
    never = SufficientStats.from_data(X[:n], y[:n], **kw)
    both = SufficientStats.from_data(X, y, **kw)
    both.subtract(X[n:], y[n:])
    _assert_same(both, never)


@SETTINGS
@given(problem=base_and_extra(), order_seed=st.integers(0, 1000))
def test_removing_rows_one_by_one_in_any_order(problem: dict[str, Any], order_seed: int) -> None:
    X, y, n = problem["X"], problem["y"], problem["n_base"]
    never = SufficientStats.from_data(X[:n], y[:n])
    both = SufficientStats.from_data(X, y)
    for i in np.random.default_rng(order_seed).permutation(np.arange(n, len(y))):
        both.subtract(X[i : i + 1], y[i : i + 1])
    _assert_same(both, never)


@SETTINGS
@given(problem=base_and_extra())
def test_unlearned_heads_equal_refit_without_the_rows(problem: dict[str, Any]) -> None:
    X, y, n = problem["X"], problem["y"], problem["n_base"]
    base = SufficientStats.from_data(X[:n], y[:n])
    # Well-posed problems only: two classes and a within-class spread (a zero covariance makes
    # LDA's solution jump between rounding errors, for a refit as much as for unlearning).
    assume(base.n_classes >= 2)
    assume(np.trace(base.within_scatter()) / base.n_samples > 1e-2)
    for head in (NCMHead(metric="euclidean"), LDAHead(shrinkage=0.3), RidgeHead(alphas=(1.0,))):
        stats = SufficientStats.from_data(X, y).subtract(X[n:], y[n:])
        unlearned = type(head)(**head.get_params()).fit_from_stats(stats)
        refit = type(head)(**head.get_params()).fit(X[:n], y[:n])
        np.testing.assert_array_equal(unlearned.classes_, refit.classes_)
        probe = X[:5]
        np.testing.assert_allclose(unlearned.logits(probe), refit.logits(probe), atol=1e-6)


def test_subtract_refuses_unknown_class_and_too_many_rows() -> None:
    X = np.eye(3)
    s = SufficientStats.from_data(X, np.array([0, 1, 1]))
    before = s.copy()
    with pytest.raises(InputError, match="no such class"):
        s.subtract(X[:1], np.array([5]))
    with pytest.raises(InputError, match="more rows of class 0"):
        s.subtract(X[:2], np.array([0, 0]))
    with pytest.raises(InputError, match="features"):
        s.subtract(np.ones((1, 2)), np.array([0]))
    _assert_same(s, before)


def test_already_empty_classes_stay_declared() -> None:
    s = SufficientStats.empty(2, classes=["a", "b", "z"])
    s.update(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array(["a", "b"]))
    s.subtract(np.array([[3.0, 4.0]]), np.array(["b"]))
    assert s.classes.tolist() == ["a", "z"]
