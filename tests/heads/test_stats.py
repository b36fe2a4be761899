"""SufficientStats against numpy oracles."""

from __future__ import annotations

import numpy as np
import pytest

from headwise.exceptions import HeadFormatError, InputError
from headwise.heads import SufficientStats


def _data(seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, 50)
    X = rng.normal(size=(50, 4)) + y[:, None] + 2.0
    return X, y


def test_matches_numpy():
    X, y = _data()
    s = SufficientStats.from_data(X, y, chunk_size=7)
    assert s.classes.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(s.counts, np.bincount(y))
    for c in range(3):
        np.testing.assert_allclose(s.sums[c], X[y == c].sum(axis=0))
        np.testing.assert_allclose(s.sq_sums[c], (X[y == c] ** 2).sum(axis=0))
        np.testing.assert_allclose(s.class_means[c], X[y == c].mean(axis=0))
        np.testing.assert_allclose(s.class_variances()[c], X[y == c].var(axis=0), atol=1e-12)
    np.testing.assert_allclose(s.gram_full, X.T @ X)
    np.testing.assert_allclose(s.total_scatter(), (X - X.mean(0)).T @ (X - X.mean(0)), atol=1e-9)
    centred = X - s.class_means[y]
    np.testing.assert_allclose(s.within_scatter(), centred.T @ centred, atol=1e-9)
    np.testing.assert_allclose(s.mean, X.mean(axis=0))
    np.testing.assert_allclose(s.priors, np.bincount(y) / 50)


def test_float32_input_accumulates_in_float64():
    X, y = _data()
    s = SufficientStats.from_data(X.astype(np.float32), y)
    assert s.gram.dtype == s.sums.dtype == np.float64


def test_empty_accepts_numpy_classes():  # regression: `if classes` on an array raised
    s = SufficientStats.empty(3, np.array([2, 0, 1]))
    assert s.classes.tolist() == [0, 1, 2]
    assert s.counts.shape == (3,) and s.sums.shape == (3, 3)
    assert SufficientStats.empty(3).classes.size == 0


def test_update_refuses_label_count_mismatch():  # regression: reduceat silently misassigned
    X, y = _data()
    with pytest.raises(InputError, match="one label per row"):
        SufficientStats.empty(4).update(X, y[:-1])


def test_update_refuses_other_dimension():
    X, y = _data()
    with pytest.raises(InputError, match="different encoder"):
        SufficientStats.empty(5).update(X, y)


def test_merge_refuses_other_dimension():
    X, y = _data()
    with pytest.raises(InputError, match="different encoders"):
        SufficientStats.from_data(X, y) + SufficientStats.from_data(X[:, :3], y)


def test_labels_cannot_mix_text_and_numbers():
    X, y = _data()
    s = SufficientStats.from_data(X, y)
    with pytest.raises(InputError, match="mix text and numbers"):
        s.update(X, np.array(["a"] * 50))


def test_new_classes_are_inserted_sorted():
    X, y = _data()
    labels = np.array(["m", "c", "x"])[y]
    s = SufficientStats.empty(4)
    s.update(X[labels == "m"], labels[labels == "m"])
    s.update(X[labels != "m"], labels[labels != "m"])
    ref = SufficientStats.from_data(X, labels)
    assert s.classes.tolist() == ["c", "m", "x"]
    np.testing.assert_allclose(s.sums, ref.sums)
    np.testing.assert_array_equal(s.counts, ref.counts)


def test_from_batches():
    X, y = _data()
    s = SufficientStats.from_batches((X[i : i + 9], y[i : i + 9]) for i in range(0, 50, 9))
    np.testing.assert_allclose(s.gram_full, X.T @ X)
    with pytest.raises(InputError, match="No batches"):
        SufficientStats.from_batches([])


def test_copy_is_independent():
    X, y = _data()
    s = SufficientStats.from_data(X, y)
    c = s.copy()
    c.update(X, y)
    np.testing.assert_allclose(s.counts, np.bincount(y))


@pytest.mark.parametrize("labels", [None, ["cat", "dog", "eel"]])
def test_save_load_round_trip(tmp_path, labels):
    X, y = _data()
    yy = y if labels is None else np.array(labels)[y]
    s = SufficientStats.from_data(X, yy)
    loaded = SufficientStats.load(s.save(tmp_path / "stats.safetensors"))
    np.testing.assert_array_equal(loaded.classes, s.classes)
    assert loaded.classes.dtype == s.classes.dtype
    for name in ("counts", "sums", "sq_sums", "gram_full"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(s, name))
    loaded.update(X, yy)  # still updatable after loading
    np.testing.assert_allclose(loaded.counts, 2 * s.counts)


def test_load_refuses_other_files(tmp_path):
    from headwise.heads._io import atomic_save_safetensors

    path = atomic_save_safetensors(tmp_path / "x.safetensors", {"a": np.zeros(2)}, {"format": "x"})
    with pytest.raises(HeadFormatError, match="not a headwise statistics file"):
        SufficientStats.load(path)


# ---------------------------------------------------------------- optional second-order parts
def test_without_gram_and_squares_keeps_first_order_parts():
    X, y = _data()
    full = SufficientStats.from_data(X, y)
    lean = SufficientStats.from_data(X, y, gram=False, squares=False, chunk_size=9)
    assert lean.gram is None and lean.sq_sums is None and lean.n_features == 4
    np.testing.assert_allclose(lean.sums, full.sums)
    np.testing.assert_array_equal(lean.counts, full.counts)
    np.testing.assert_allclose(
        SufficientStats.from_data(X, y, gram=False).total_variances(), X.var(axis=0), atol=1e-12
    )
    np.testing.assert_allclose(full.total_variances(), X.var(axis=0), atol=1e-12)


def test_missing_parts_are_named_in_the_error():
    X, y = _data()
    lean = SufficientStats.from_data(X, y, gram=False, squares=False)
    with pytest.raises(InputError, match="gram=False"):
        lean.within_scatter()
    with pytest.raises(InputError, match="squares=False"):
        lean.class_variances()


def test_merge_keeps_what_both_sides_hold():
    X, y = _data()
    a = SufficientStats.from_data(X[:20], y[:20])
    b = SufficientStats.from_data(X[20:], y[20:], gram=False)
    merged = a + b
    assert merged.gram is None and merged.sq_sums is not None
    np.testing.assert_allclose(merged.sq_sums, SufficientStats.from_data(X, y).sq_sums)


def test_lean_save_load_round_trip(tmp_path):
    X, y = _data()
    lean = SufficientStats.from_data(X, y, gram=False)
    back = SufficientStats.load(lean.save(tmp_path / "s.safetensors"))
    assert back.gram is None and back.n_features == 4
    np.testing.assert_allclose(back.sq_sums, lean.sq_sums)


@pytest.mark.parametrize(
    ("name", "gram", "squares", "ok"),
    [
        ("ncm", False, False, True),
        ("nb", False, True, True),
        ("nb", True, False, False),
        ("lda", False, True, False),
        ("ridge", True, False, True),
    ],
)
def test_heads_take_statistics_with_just_what_they_read(name, gram, squares, ok):
    from headwise.heads import get_head

    X, y = _data()
    stats = SufficientStats.from_data(X, y, gram=gram, squares=squares)
    batch = get_head(name).fit(X, y)
    if not ok:
        with pytest.raises(InputError, match="needs"):
            get_head(name).fit_from_stats(stats)
        return
    head = get_head(name).fit_from_stats(stats)
    np.testing.assert_allclose(head.decision_function(X), batch.decision_function(X), atol=1e-9)


def test_ncm_and_nb_fit_skips_the_gram_matrix():
    from headwise.heads import get_head

    X, y = _data()
    assert get_head("ncm").fit(X, y).stats_.gram is None
    assert get_head("nb").fit(X, y).stats_.gram is None
    assert get_head("lda").fit(X, y).stats_.gram is not None


def test_float32_rows_match_float64_statistics():
    """float32 input takes the centred float32-BLAS path; its statistics match float64 ones.

    The rows sit far from the origin (offset 50, spread 1), where an uncentred float32 Gram
    would lose the within-class scatter to cancellation.
    """
    rng = np.random.default_rng(3)
    y = rng.integers(0, 5, 3000)
    X = (rng.normal(size=(3000, 12)) + 50.0 + rng.normal(size=(5, 12))[y]).astype(np.float32)
    fast = SufficientStats.from_data(X, y, chunk_size=700)
    exact = SufficientStats.from_data(X.astype(np.float64), y, chunk_size=700)
    np.testing.assert_array_equal(fast.counts, exact.counts)
    for a, b in (
        (fast.sums, exact.sums),
        (fast.sq_sums, exact.sq_sums),
        (fast.gram_full, exact.gram_full),
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    w_fast, w_exact = fast.within_scatter(), exact.within_scatter()
    np.testing.assert_allclose(w_fast, w_exact, rtol=0, atol=1e-5 * np.abs(w_exact).max())
    # chunked accumulation of float32 rows equals one pass up to float32 rounding of the spread
    one = SufficientStats.from_data(X, y, chunk_size=10_000)
    np.testing.assert_allclose(
        one.within_scatter(), w_fast, rtol=0, atol=1e-5 * np.abs(w_exact).max()
    )
