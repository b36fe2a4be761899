"""Merging sufficient statistics: associative, commutative, equal to the concatenation."""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from headwise.heads import SufficientStats

SETTINGS = settings(max_examples=25, deadline=None)


@st.composite
def three_parts(draw: st.DrawFn) -> dict[str, Any]:
    """Random labelled rows split into three non-empty parts with possibly disjoint classes."""
    seed = draw(st.integers(0, 2**32 - 1))
    d = draw(st.integers(1, 5))
    sizes = draw(st.lists(st.integers(1, 12), min_size=3, max_size=3))
    text = draw(st.booleans())
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0) + rng.normal(size=d)
    codes = rng.integers(0, 5, n)
    y = np.array(["a", "b", "c", "d", "e"])[codes] if text else codes * 10
    bounds = np.cumsum([0, *sizes])
    parts = [(X[s:e], y[s:e]) for s, e in zip(bounds[:-1], bounds[1:], strict=True)]
    return {"X": X, "y": y, "parts": parts}


def _fields(s: SufficientStats) -> dict[str, np.ndarray]:
    return {"counts": s.counts, "sums": s.sums, "sq_sums": s.sq_sums, "gram": s.gram_full}


def assert_stats_close(a: SufficientStats, b: SufficientStats, rtol: float = 1e-12) -> None:
    np.testing.assert_array_equal(a.classes, b.classes)
    for name, value in _fields(a).items():
        other = _fields(b)[name]
        np.testing.assert_allclose(value, other, rtol=rtol, atol=rtol * np.abs(other).max())


@SETTINGS
@given(problem=three_parts())
def test_merge_is_associative(problem: dict[str, Any]) -> None:
    a, b, c = (SufficientStats.from_data(X, y) for X, y in problem["parts"])
    assert_stats_close((a + b) + c, a + (b + c))


@SETTINGS
@given(problem=three_parts())
def test_merge_is_commutative(problem: dict[str, Any]) -> None:
    a, b, _ = (SufficientStats.from_data(X, y) for X, y in problem["parts"])
    ab, ba = a + b, b + a
    np.testing.assert_array_equal(ab.classes, ba.classes)
    for name, value in _fields(ab).items():
        np.testing.assert_array_equal(value, _fields(ba)[name])


@SETTINGS
@given(problem=three_parts())
def test_merge_equals_stats_of_concatenation_and_numpy(problem: dict[str, Any]) -> None:
    X, y = problem["X"], problem["y"]
    a, b, c = (SufficientStats.from_data(Xp, yp) for Xp, yp in problem["parts"])
    merged = a + b + c
    assert_stats_close(merged, SufficientStats.from_data(X, y))
    classes = np.unique(y)
    np.testing.assert_array_equal(merged.classes, classes)
    np.testing.assert_allclose(merged.gram_full, X.T @ X, rtol=1e-12, atol=1e-12)
    for i, cl in enumerate(classes):
        rows = X[y == cl]
        assert merged.counts[i] == rows.shape[0]
        np.testing.assert_allclose(merged.sums[i], rows.sum(axis=0), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(merged.sq_sums[i], (rows**2).sum(axis=0), rtol=1e-12)


@SETTINGS
@given(problem=three_parts())
def test_merge_leaves_operands_unchanged(problem: dict[str, Any]) -> None:
    a, b, _ = (SufficientStats.from_data(X, y) for X, y in problem["parts"])
    before = {k: v.copy() for k, v in _fields(a).items()}
    _ = a + b
    for name, value in _fields(a).items():
        np.testing.assert_array_equal(value, before[name])


@SETTINGS
@given(problem=three_parts())
def test_save_load_round_trip(problem: dict[str, Any]) -> None:
    stats = SufficientStats.from_data(problem["X"], problem["y"])
    with TemporaryDirectory() as tmp:
        loaded = SufficientStats.load(stats.save(Path(tmp) / "stats.safetensors"))
    assert loaded.classes.dtype == stats.classes.dtype
    assert_stats_close(loaded, stats, rtol=0.0)
