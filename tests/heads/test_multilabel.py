"""Oracle and property tests of the multi-label heads and their pure functions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from headwise.heads import MultiLabelKNNHead, MultiLabelLogisticHead, MultiLabelRidgeHead
from headwise.heads._mlbase import f1_thresholds, kfold_rows
from headwise.heads._mltargets import multilabel_targets

from .test_multilabel_contract import toy_multilabel


def _numpy_ridge(X: np.ndarray, t: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    xm, tm = X.mean(axis=0), t.mean()
    Xc = X - xm
    w = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ (t - tm))
    return w, tm - xm @ w


def test_ridge_matches_numpy_per_label() -> None:
    X, Y = toy_multilabel(80, d=6, L=3)
    head = MultiLabelRidgeHead(alphas=(0.5,), threshold=0.0).fit(X, Y)
    for j in range(3):
        w, b = _numpy_ridge(X, 2 * Y[:, j] - 1, 0.5)
        np.testing.assert_allclose(head.coef_[j], w, atol=1e-10)
        np.testing.assert_allclose(head.intercept_[j], b, atol=1e-10)


def test_ridge_masked_entries_fit_on_known_rows_only() -> None:
    X, Y = toy_multilabel(80, d=6, L=3)
    rng = np.random.default_rng(1)
    Ym = Y.copy()
    Ym[rng.random(Y.shape) < 0.25] = np.nan
    Ym[:, 2] = Y[:, 2]  # one label fully known: shares the common path
    head = MultiLabelRidgeHead(alphas=(0.5,), threshold=0.0).fit(X, Ym)
    for j in range(3):
        known = ~np.isnan(Ym[:, j])
        w, b = _numpy_ridge(X[known], 2 * Ym[known, j] - 1, 0.5)
        np.testing.assert_allclose(head.coef_[j], w, atol=1e-10)
        np.testing.assert_allclose(head.intercept_[j], b, atol=1e-10)


def test_ridge_gcv_is_sum_of_per_label_gcv() -> None:
    X, Y = toy_multilabel(60, d=5, L=2)
    alphas = (0.1, 1.0, 10.0)
    head = MultiLabelRidgeHead(alphas=alphas, threshold=0.0).fit(X, Y)
    total = np.zeros(3)
    for j in range(2):
        for i, a in enumerate(alphas):
            Xc = X - X.mean(0)
            H = Xc @ np.linalg.solve(Xc.T @ Xc + a * np.eye(5), Xc.T) + 1.0 / 60  # with intercept
            t = 2 * Y[:, j] - 1
            r = t - H @ t
            df = np.trace(H) - 1.0  # the intercept's degree of freedom is not counted
            total[i] += 60 * (r @ r) / (60 - df) ** 2
    np.testing.assert_allclose(head.alpha_scores_, total, rtol=1e-8)


@settings(max_examples=25, deadline=None)
@given(
    cuts=st.lists(st.integers(1, 59), min_size=1, max_size=4, unique=True),
    seed=st.integers(0, 10**6),
    masked=st.booleans(),
)
def test_ridge_partial_fit_equals_fit(cuts: list[int], seed: int, masked: bool) -> None:
    """Any split into batches gives the batch fit. Label lists: a label first mentioned in a
    later batch is new there. Indicator matrices: unknown entries (NaN) stay masked."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 4)) + 2.0
    names = np.array(["a", "b", "c", "d"])
    Y = (rng.random((60, 4)) < 0.3).astype(float)
    if masked:
        Y[rng.random(Y.shape) < 0.2] = np.nan
        target = Y
    else:
        target = [names[np.flatnonzero(r)].tolist() for r in Y]
    bounds = [0, *sorted(cuts), 60]
    inc = MultiLabelRidgeHead(alphas=(0.1, 1.0, 10.0), threshold=0.0)
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        inc.partial_fit(X[lo:hi], target[lo:hi])
    ref = MultiLabelRidgeHead(alphas=(0.1, 1.0, 10.0), threshold=0.0).fit(X, target)
    np.testing.assert_array_equal(inc.classes_, ref.classes_)
    np.testing.assert_allclose(inc.coef_, ref.coef_, atol=1e-8)
    np.testing.assert_allclose(inc.intercept_, ref.intercept_, atol=1e-8)
    np.testing.assert_allclose(inc.alpha_scores_, ref.alpha_scores_, rtol=1e-8)


def test_ridge_new_label_later_equals_batch() -> None:
    X, Y = toy_multilabel(90, d=5, L=3)
    names = np.array(["x", "y", "z"])
    lists = [names[np.flatnonzero(r)].tolist() for r in Y]
    first = [[v for v in r if v != "z"] for r in lists[:50]]  # "z" never occurs in batch one
    Yfull = Y.copy()
    Yfull[:50, 2] = 0
    inc = MultiLabelRidgeHead(alphas=(1.0,), threshold=0.0).partial_fit(X[:50], first)
    assert inc.classes_.tolist() == ["x", "y"]
    inc.partial_fit(X[50:], lists[50:])
    ref = MultiLabelRidgeHead(alphas=(1.0,), threshold=0.0).fit(X, Yfull)
    np.testing.assert_allclose(inc.coef_, ref.coef_, atol=1e-10)
    assert inc.thresholds_.shape == (3,)


def test_logistic_matches_sklearn_per_label() -> None:
    X, Y = toy_multilabel(100, d=5, L=3)
    head = MultiLabelLogisticHead(C=0.7, preprocess="none", tol=1e-10, max_iter=5000, threshold=0.0)
    head.fit(X, Y)
    for j in range(3):
        ref = LogisticRegression(C=0.7, tol=1e-12, max_iter=10000).fit(X, Y[:, j])
        np.testing.assert_allclose(head.logits(X)[:, j], ref.decision_function(X), atol=2e-4)


def test_logistic_masked_equals_known_rows_fit() -> None:
    X, Y = toy_multilabel(100, d=5, L=2)
    Ym = Y.copy()
    Ym[::3, 0] = np.nan
    head = MultiLabelLogisticHead(C=0.7, preprocess="none", tol=1e-10, max_iter=5000, threshold=0.0)
    head.fit(X, Ym)
    known = ~np.isnan(Ym[:, 0])
    ref = LogisticRegression(C=0.7, tol=1e-12, max_iter=10000).fit(X[known], Ym[known, 0])
    np.testing.assert_allclose(head.logits(X)[:, 0], ref.decision_function(X), atol=2e-4)


def test_logistic_path_picks_lowest_validation_loss() -> None:
    X, Y = toy_multilabel(150)
    head = MultiLabelLogisticHead(Cs=(0.001, 0.1, 10.0)).fit(X, Y)
    assert head.C_ == (0.001, 0.1, 10.0)[int(np.argmin(head.val_losses_))]


def test_knn_votes_brute_force() -> None:
    X, Y = toy_multilabel(50, d=4, L=3)
    Ym = Y.copy()
    Ym[::4, 1] = np.nan
    head = MultiLabelKNNHead(n_neighbors=5, weights="uniform", smoothing=0.0, threshold=0.0).fit(X, Ym)
    q = np.random.default_rng(3).normal(size=(7, 4)) + 1.0
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    nn = np.argsort(-(qn @ Xn.T), axis=1)[:, :5]
    votes = Ym[nn]  # (7, 5, 3)
    expect = np.nanmean(votes, axis=1)
    p = head.predict_proba(q)
    ok = ~np.isnan(expect)
    np.testing.assert_allclose(p[ok], np.clip(expect[ok], 1e-9, 1 - 1e-9), atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(3, 40))
def test_f1_thresholds_reach_the_best_f1(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    s = np.round(rng.normal(size=(n, 2)), 1)  # ties on purpose
    Y = (rng.random((n, 2)) < 0.4).astype(float)
    thr = f1_thresholds(s, Y, fbr=0.0)  # no fallback: the cut reaches the best F1
    for j in range(2):
        if Y[:, j].sum() == 0:
            assert thr[j] == 0.0
            continue
        best = max(f1_score(Y[:, j], s[:, j] >= c, zero_division=0) for c in np.unique(s[:, j]))
        got = f1_score(Y[:, j], s[:, j] >= thr[j], zero_division=0)
        assert got == pytest.approx(best)


def test_f1_thresholds_fall_back_to_the_top_score_when_the_best_f1_is_low() -> None:
    # label 0: its one positive ranks 30th of 40, so the best cut admits 30 rows (F1 = 2/31);
    # SCutFBR.1 keeps the label off unless a row scores as high as the highest validation score.
    s = np.column_stack([np.linspace(1.0, 0.0, 40), np.linspace(1.0, 0.0, 40)])
    Y = np.zeros((40, 2))
    Y[29, 0] = 1.0
    Y[:4, 1] = 1.0  # label 1: a clean cut, kept
    thr = f1_thresholds(s, Y)
    assert thr[0] == s[0, 0]
    assert (s[:, 0] >= thr[0]).sum() == 1
    assert thr[1] == pytest.approx((s[3, 1] + s[4, 1]) / 2)
    thr0 = f1_thresholds(s, Y, fbr=0.0)
    assert (s[:, 0] >= thr0[0]).sum() == 30


@pytest.mark.parametrize("head", [MultiLabelRidgeHead(), MultiLabelLogisticHead(C=0.1), MultiLabelKNNHead()])
def test_f1_thresholds_come_from_out_of_fold_logits(head) -> None:  # type: ignore[no-untyped-def]
    # the oracle: fit a copy per fold by hand, score its held-out rows, tune on all of them
    X, Y = toy_multilabel(90, d=6, L=3)
    head.fit(X, Y)
    oof = np.empty(Y.shape)
    for tr, te in kfold_rows(90, 10, 0):
        part = type(head)(**{**head.get_params(), "threshold": 0.0}).fit(X[tr], Y[tr])
        oof[te] = part.logits(X[te])
    np.testing.assert_allclose(head.thresholds_, f1_thresholds(oof, Y), atol=1e-6)


def test_logistic_folds_keep_the_chosen_c(monkeypatch: pytest.MonkeyPatch) -> None:
    X, Y = toy_multilabel(120, d=6, L=3)
    seen: list[float] = []
    real = MultiLabelLogisticHead._fit_core

    def spy(self, X, Y, classes):  # type: ignore[no-untyped-def]
        seen.append(self.C if self.C is not None else self._selected_C)
        return real(self, X, Y, classes)

    monkeypatch.setattr(MultiLabelLogisticHead, "_fit_core", spy)
    head = MultiLabelLogisticHead().fit(X, Y)
    assert len(seen) == 11 and set(seen) == {head.C_}  # ten folds and the final fit


def test_kfold_rows_partition_every_row_once() -> None:
    folds = kfold_rows(23, 5, 0)
    assert len(folds) == 5
    tests = np.sort(np.concatenate([te for _, te in folds]))
    assert tests.tolist() == list(range(23))
    for tr, te in folds:
        assert np.intersect1d(tr, te).size == 0 and tr.size + te.size == 23
    assert kfold_rows(3, 5, 0) == []


def test_targets_formats() -> None:
    Y, classes = multilabel_targets([[2, 5], [], [5]])
    assert classes.tolist() == [2, 5] and Y.tolist() == [[1, 1], [0, 0], [0, 1]]
    Y, classes = multilabel_targets(["a", "b", "a"])  # one label per row
    assert Y.tolist() == [[1, 0], [0, 1], [1, 0]]
    with pytest.raises(Exception, match="mix text and numbers"):
        multilabel_targets([["a"], [1]])
