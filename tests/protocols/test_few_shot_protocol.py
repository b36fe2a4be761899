from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from headwise.exceptions import InputError
from headwise.heads import NCMHead
from headwise.protocols import (
    few_shot_eval,
    mteb_eval,
    mteb_samples_per_label,
    mteb_undersample,
    sample_per_class,
)

from ._helpers import blobs


def test_sampling_is_balanced_seeded_and_distinct_per_seed():
    y = np.repeat(np.arange(5), 30)
    a = sample_per_class(y, 4, seed=0)
    assert np.bincount(y[a]).tolist() == [4] * 5
    assert np.array_equal(a, sample_per_class(y, 4, seed=0))
    assert not np.array_equal(a, sample_per_class(y, 4, seed=1))
    with pytest.raises(InputError, match="only 30"):
        sample_per_class(y, 31, seed=0)


def test_too_many_shots_are_refused_before_any_fit(monkeypatch):
    Xtr, ytr, Xte, yte = blobs()  # 20 training rows per class
    names = np.array(["money", "sport", "weather", "travel"])
    fits = []
    monkeypatch.setattr(NCMHead, "fit", lambda self, X, y: fits.append(1) or self)
    with pytest.raises(InputError) as info:
        few_shot_eval({"ncm": NCMHead()}, Xtr, names[ytr], Xte, names[yte], shots=[1, 21], seeds=2)
    said = str(info.value)
    assert fits == [] and "class 'money' has only 20" in said and "np.str_" not in said


def test_few_shot_curve_and_reproducibility():
    Xtr, ytr, Xte, yte = blobs()
    r1 = few_shot_eval("ncm,lda,ridge", Xtr, ytr, Xte, yte, shots=[1, 4], seeds=3)
    r2 = few_shot_eval("ncm,lda,ridge", Xtr, ytr, Xte, yte, shots=[1, 4], seeds=3)
    assert r1.heads == r2.heads
    c = r1.heads["ncm"]
    assert c.shots == (1, 4) and len(c.scores[0].per_seed) == 3
    assert c.mean[1] > 0.9
    js = r1.to_json(dataset="toy")
    assert set(js["heads"]["ncm"]) == {"shots", "mean", "ci95", "per_seed"}


def test_few_shot_train_and_test_never_overlap():
    """Fitted heads see only sampled train rows: a head that memorises rows would show it."""
    Xtr, ytr, Xte, yte = blobs()
    seen: list[np.ndarray] = []

    class Spy(NCMHead):
        def fit(self, X, y):
            seen.append(np.asarray(X))
            return super().fit(X, y)

    few_shot_eval({"spy": Spy()}, Xtr, ytr, Xte, yte, shots=[2], seeds=2)
    train_rows = {r.tobytes() for r in Xtr}
    test_rows = {r.tobytes() for r in Xte}
    for X in seen:
        rows = {r.tobytes() for r in X}
        assert rows <= train_rows and not rows & test_rows


def _mteb_by_hand(y, k, n_exp, seed):
    """MTEB's AbsTaskClassification loop, transcribed with the global RNG it uses."""
    np.random.seed(seed)
    idxs = None
    out = []
    for _ in range(n_exp):
        if idxs is None:
            idxs = np.arange(len(y))
        np.random.shuffle(idxs)
        counter: dict = defaultdict(int)
        picked = []
        for i in idxs:
            if counter[y[i]] < k:
                picked.append(i)
                counter[y[i]] += 1
        out.append(picked)
    return out


def test_mteb_sampling_matches_hand_computed_case():
    y = [0, 1, 0, 1, 2, 2, 0, 1, 2, 0]
    got = mteb_undersample(y, samples_per_label=2, n_experiments=3, seed=42)
    # np.random.RandomState(42): first shuffle of arange(10) is [8 1 5 0 7 2 9 4 3 6]; labels
    # 2,1,2,0,1,0,... -> first two of each label in that order.
    assert got[0].tolist() == [8, 1, 5, 0, 7, 2]
    assert [g.tolist() for g in got] == _mteb_by_hand(np.asarray(y), 2, 3, 42)
    # the shuffles compose: experiment 2 reshuffles experiment 1's order, not arange
    rs = np.random.RandomState(42)
    idx = np.arange(10)
    rs.shuffle(idx)
    rs.shuffle(idx)
    assert got[1][0] == idx[0]


def test_mteb_eval_defaults_and_heads_on_same_rows():
    Xtr, ytr, Xte, yte = blobs(n_train=20)
    res = mteb_eval(Xtr, ytr, Xte, yte, samples_per_label=3, heads="ncm")
    assert list(res.heads) == ["mteb-logreg", "ncm"]
    assert res.n_experiments == 10 and len(res.sampled) == 10
    assert all(np.bincount(ytr[list(s)]).tolist() == [3] * 4 for s in res.sampled)
    assert [list(s) for s in res.sampled] == [s.tolist() for s in mteb_undersample(ytr, 3)]
    assert res.heads["mteb-logreg"].mean > 0.9
    assert mteb_samples_per_label("emotion.jsonl.gz") == 16
    assert mteb_samples_per_label("Banking77") == 8
    assert mteb_samples_per_label("AmazonCounterfactual") == 32
