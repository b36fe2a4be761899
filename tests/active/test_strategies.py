"""Each strategy's defining property on tiny cases, seeding, input errors and memory bounds."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from headwise.active import (
    STRATEGIES,
    class_balanced,
    coreset,
    entropy,
    k_center_greedy,
    least_confidence,
    margin,
    pcoreset,
    random_query,
    select_batch,
)
from headwise.exceptions import InputError


def _proba(n: int, k: int, seed: int = 0) -> np.ndarray:
    z = np.random.default_rng(seed).normal(size=(n, k)) * 2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------- uncertainty
@pytest.mark.parametrize(
    ("fn", "score"),
    [
        (least_confidence, lambda P: 1 - P.max(axis=1)),
        (margin, lambda P: -np.diff(np.sort(P, axis=1)[:, -2:], axis=1)[:, 0]),
        (entropy, lambda P: -(P * np.log(P)).sum(axis=1)),
    ],
)
def test_uncertainty_picks_the_top_scores_and_skips_labelled(fn, score):
    P = _proba(50, 4)
    labeled = [int(np.argmax(score(P)))]  # the most uncertain row is already labelled
    got = fn(P, 5, labeled=labeled, seed=3)
    s = score(P)
    s[labeled] = -np.inf
    np.testing.assert_array_equal(got, np.argsort(-s, kind="stable")[:5])


def test_margin_differs_from_least_confidence_where_it_should():
    # row 0: confident top but close runner-up; row 1: flat over three classes
    P = np.array([[0.45, 0.44, 0.11], [0.34, 0.33, 0.33], [0.9, 0.05, 0.05]])
    assert least_confidence(P, 1).tolist() == [1]
    assert margin(P, 1).tolist() == [1]
    P2 = np.array([[0.5, 0.49, 0.01], [0.4, 0.3, 0.3]])
    assert least_confidence(P2, 1).tolist() == [1]  # max 0.4 < 0.5
    assert margin(P2, 1).tolist() == [0]  # gap 0.01 < 0.1


def test_ties_are_broken_by_the_seed_not_the_index():
    P = np.full((100, 2), 0.5)
    picks = {tuple(entropy(P, 3, seed=s).tolist()) for s in range(5)}
    assert len(picks) > 1
    np.testing.assert_array_equal(entropy(P, 3, seed=7), entropy(P, 3, seed=7))


def test_random_query_is_seeded_uniform_and_skips_labelled():
    a = random_query(20, 5, labeled=np.arange(10), seed=1)
    assert set(a.tolist()) <= set(range(10, 20)) and len(set(a.tolist())) == 5
    np.testing.assert_array_equal(a, random_query(20, 5, labeled=np.arange(10), seed=1))
    counts = np.bincount(
        np.concatenate([random_query(10, 1, seed=s) for s in range(2000)]), minlength=10
    )
    assert counts.min() > 140 and counts.max() < 260  # ~200 each


# ---------------------------------------------------------------- k-center
def _brute_k_center(F: np.ndarray, k: int, labeled: list[int]) -> list[int]:
    D = ((F[:, None, :] - F[None, :, :]) ** 2).sum(-1)
    centers, picks = list(labeled), []
    for _ in range(k):
        mind = D[:, centers].min(axis=1)
        mind[centers] = -np.inf
        c = int(np.argmax(mind))
        centers.append(c)
        picks.append(c)
    return picks


@pytest.mark.parametrize("seed", range(5))
def test_coreset_matches_a_brute_force_farthest_first_oracle(seed):
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(60, 3))
    labeled = rng.choice(60, size=4, replace=False).tolist()
    assert coreset(F, 6, labeled=labeled).tolist() == _brute_k_center(F, 6, labeled)


def test_coreset_covers_every_cluster_before_revisiting_one():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [50, 0], [0, 50], [50, 50]], dtype=float)
    F = np.concatenate([c + rng.normal(size=(30, 2)) for c in centres])
    picks = coreset(F, 4, seed=3)
    assert sorted(set((picks // 30).tolist())) == [0, 1, 2, 3]


def test_coreset_blocks_agree_with_one_block(monkeypatch):
    import headwise.active._coreset as mod

    rng = np.random.default_rng(1)
    F = rng.normal(size=(500, 4))
    want = coreset(F, 10, labeled=np.arange(40))
    monkeypatch.setattr(mod, "_BLOCK", 64)  # many small (rows × centres) blocks
    np.testing.assert_array_equal(coreset(F, 10, labeled=np.arange(40)), want)


def test_pcoreset_works_in_probability_space():
    # far apart in X, but the same prediction: PCoreSet sees them as one point
    X = np.array([[0.0], [100.0], [1.0]])
    P = np.array([[0.9, 0.1], [0.9, 0.1], [0.1, 0.9]])
    assert coreset(X, 1, labeled=[0]).tolist() == [1]
    assert pcoreset(P, 1, labeled=[0]).tolist() == [2]


def test_k_center_without_labels_starts_from_a_seeded_row():
    F = np.random.default_rng(0).normal(size=(40, 2))
    firsts = {int(k_center_greedy(F, 1, seed=s)[0]) for s in range(10)}
    assert len(firsts) > 1
    np.testing.assert_array_equal(k_center_greedy(F, 5, seed=2), k_center_greedy(F, 5, seed=2))


# ---------------------------------------------------------------- class balance
def test_class_balance_fills_the_least_labelled_pseudo_class_first():
    pseudo = np.array([0, 0, 0, 0, 1, 2, 2])
    cand = [0, 1, 2, 3, 4, 5, 6]  # base order: class 0 dominates the top
    picks = class_balanced(cand, pseudo, 3, labeled_labels=[0, 0, 0, 2], n_classes=3)
    # counts [3, 0, 1]: class 1 first (row 4), then class 2 twice (rows 5, 6; class 1 is empty)
    assert picks.tolist() == [4, 5, 6]


def test_class_balance_keeps_the_base_order_within_a_class():
    pseudo = np.array([1, 0, 1, 0])
    picks = class_balanced([3, 2, 1, 0], pseudo, 4, n_classes=2, seed=0)
    assert [p for p in picks if pseudo[p] == 0] == [3, 1]
    assert [p for p in picks if pseudo[p] == 1] == [2, 0]


def test_pcb_wrapper_balances_an_imbalanced_uncertainty_batch():
    P = _proba(400, 5, seed=2)
    P[:, 0] += 0.2  # most rows predicted class 0
    P /= P.sum(axis=1, keepdims=True)
    plain = select_batch("entropy", 10, proba=P)
    bal = select_batch("pcb:entropy", 10, proba=P, seed=0)
    spread = lambda idx: np.bincount(P[idx].argmax(axis=1), minlength=5).max()  # noqa: E731
    assert spread(bal) <= 2 <= spread(plain)


# ---------------------------------------------------------------- dispatcher and errors
@pytest.mark.parametrize("name", [*STRATEGIES, *(f"pcb:{s}" for s in STRATEGIES)])
def test_every_strategy_returns_distinct_unlabelled_rows_reproducibly(name):
    rng = np.random.default_rng(0)
    X, P = rng.normal(size=(80, 5)), _proba(80, 3)
    labeled = np.arange(0, 80, 8)
    a = select_batch(name, 12, X=X, proba=P, labeled=labeled, labeled_codes=P[labeled].argmax(1), seed=4)
    b = select_batch(name, 12, X=X, proba=P, labeled=labeled, labeled_codes=P[labeled].argmax(1), seed=4)
    np.testing.assert_array_equal(a, b)
    assert a.size == 12 and np.unique(a).size == 12
    assert not set(a.tolist()) & set(labeled.tolist())


def test_errors_are_one_clear_line():
    P = _proba(5, 2)
    with pytest.raises(InputError, match="Unknown strategy 'badge'"):
        select_batch("badge", 1, proba=P)
    with pytest.raises(InputError, match="exceeds the 2 unlabelled"):
        entropy(P, 3, labeled=[0, 1, 2])
    with pytest.raises(InputError, match="needs the pool embeddings"):
        select_batch("coreset", 1, proba=P)
    with pytest.raises(InputError, match="finite"):
        margin(np.array([[np.nan, 1.0]]), 1)
    with pytest.raises(InputError, match="budget must be an int"):
        least_confidence(P, 0)


# ---------------------------------------------------------------- memory
@pytest.mark.parametrize("name", ["entropy", "margin", "coreset", "pcoreset", "pcb:entropy"])
def test_memory_stays_linear_for_a_100k_row_pool(name):
    n, d, k = 100_000, 16, 8
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d)).astype(np.float32)
    P = _proba(n, k).astype(np.float32)
    labeled = np.arange(0, n, 1000)
    tracemalloc.start()
    try:
        picks = select_batch(name, 20, X=X, proba=P, labeled=labeled,
                             labeled_codes=P[labeled].argmax(1), seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert picks.size == 20
    # inputs are 9.6 MB; an n x n float matrix would be 80 GB. Allow ~48 bytes/row over chunks.
    assert peak < 48 * n + 40 * 2**20, f"{name} peaked at {peak / 2**20:.1f} MiB"
