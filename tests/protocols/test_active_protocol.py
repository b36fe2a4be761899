"""The active-learning protocol: rounds, exact incremental refits, zero-shot start, DHO, AULC."""

from __future__ import annotations

import json

import pytest

from headwise.exceptions import InputError
from headwise.heads import DHOHead, LDAHead, LogisticHead, NCMHead
from headwise.protocols import active_eval, area_under_curve

from ._helpers import blobs


class _NoPartialNCM(NCMHead):
    """NCM without partial_fit: every round is a full refit."""

    def __getattribute__(self, name: str):  # hide partial_fit from hasattr
        if name == "partial_fit":
            raise AttributeError(name)
        return super().__getattribute__(name)


def test_curve_shape_seeds_and_json():
    Xtr, ytr, Xte, yte = blobs(scale=1.5)
    r = active_eval("ncm", Xtr, ytr, Xte, yte, strategies=["random", "entropy"], start=1,
                    rounds=3, budget=4, seeds=3)
    c = r.strategies["entropy"]
    assert c.n_labels == (4, 8, 12, 16)
    assert all(len(s.per_seed) == 3 for s in c.scores) and len(c.aulc.per_seed) == 3
    for seed in range(3):
        per = [s.per_seed[seed] for s in c.scores]
        assert c.aulc.per_seed[seed] == pytest.approx(area_under_curve(c.n_labels, per))
    payload = json.loads(json.dumps(r.to_json(dataset="toy")))
    assert payload["protocol"] == "active" and payload["budget"] == 4
    assert payload["strategies"]["random"]["n_labels"] == [4, 8, 12, 16]


def test_partial_fit_rounds_equal_full_refits():
    Xtr, ytr, Xte, yte = blobs(scale=1.0, n_train=30)
    kw = dict(strategies=["margin", "coreset"], start=1, rounds=4, budget=3, seeds=2)
    inc = active_eval(NCMHead(), Xtr, ytr, Xte, yte, **kw)
    full = active_eval(_NoPartialNCM(), Xtr, ytr, Xte, yte, **kw)
    for s in ("margin", "coreset"):
        assert inc.strategies[s].refits["partial_fit"] == 2 * 4
        assert full.strategies[s].refits["partial_fit"] == 0
        assert inc.strategies[s].mean == full.strategies[s].mean


def test_heads_that_refuse_partial_fit_are_refitted():
    Xtr, ytr, Xte, yte = blobs(n_train=30)
    r = active_eval(LDAHead(shrinkage="ledoit-wolf"), Xtr, ytr, Xte, yte,
                    strategies=["random"], start=2, rounds=2, budget=4, seeds=1)
    assert r.strategies["random"].refits == {"partial_fit": 0, "fit": 3}


def test_zero_shot_start_begins_with_the_teacher():
    Xtr, ytr, Xte, yte = blobs(scale=1.2, n_train=40)
    teacher = LogisticHead(C=0.01).fit(Xtr[::10], ytr[::10])
    r = active_eval("ncm", Xtr, ytr, Xte, yte, strategies=["entropy"], start=0, rounds=3,
                    budget=8, seeds=2, teacher=teacher)
    c = r.strategies["entropy"]
    assert c.n_labels == (0, 8, 16, 24)
    assert c.scores[0].per_seed == (teacher.score(Xte, yte),) * 2


def test_dho_learns_from_the_teacher_and_the_queried_labels():
    Xtr, ytr, Xte, yte = blobs(scale=1.0, n_train=40, seed=3)
    teacher = LogisticHead(C=0.01).fit(Xtr[::20], ytr[::20])
    r = active_eval(DHOHead(), Xtr, ytr, Xte, yte, strategies=["pcoreset", "pcb:entropy"],
                    start=0, rounds=3, budget=4, seeds=2, teacher=teacher)
    for c in r.strategies.values():
        assert c.refits == {"partial_fit": 0, "fit": 2 * 3}
        assert c.mean[-1] >= c.mean[0] - 0.05


def test_a_zero_shot_teacher_reaches_dho_as_a_head(monkeypatch):
    """With a zero-shot teacher, each round's DHO fit gets the head itself, so it can move the
    class vectors toward the pool; any other teacher goes as its pool probabilities."""
    import numpy as np

    from headwise.heads import ZeroShotHead

    Xtr, ytr, Xte, yte = blobs(scale=1.0, n_train=40, seed=3)
    classes = np.unique(ytr)
    zs = ZeroShotHead(scale=10.0)
    means = np.array([Xtr[ytr == c].mean(0) for c in classes])
    zs.classes_, zs.n_features_in_ = classes, Xtr.shape[1]
    zs.coef_ = means / np.linalg.norm(means, axis=1, keepdims=True)
    seen = []
    fit = DHOHead.fit

    def spy(self, X, y, **kw):
        seen.append(("teacher" in kw and kw["teacher"] is zs, "teacher_proba" in kw))
        return fit(self, X, y, **kw)

    monkeypatch.setattr(DHOHead, "fit", spy)
    active_eval(DHOHead(), Xtr, ytr, Xte, yte, strategies=["random"], start=1, rounds=2,
                budget=4, seeds=1, teacher=zs)
    assert seen and all(head and not proba for head, proba in seen[1:])  # [0]: the warm template
    seen.clear()
    logistic = LogisticHead(C=0.01).fit(Xtr[::20], ytr[::20])
    active_eval(DHOHead(), Xtr, ytr, Xte, yte, strategies=["random"], start=1, rounds=2,
                budget=4, seeds=1, teacher=logistic)
    assert seen and all(proba and not head for head, proba in seen)


def test_more_labels_help_on_average():
    Xtr, ytr, Xte, yte = blobs(scale=0.8, n_train=50, n_test=50, seed=1)
    r = active_eval(LogisticHead(C=1.0), Xtr, ytr, Xte, yte, strategies=["random"], start=1,
                    rounds=4, budget=8, seeds=4)
    m = r.strategies["random"].mean
    assert m[-1] > m[0]


def test_errors_are_clear():
    Xtr, ytr, Xte, yte = blobs()
    with pytest.raises(InputError, match="Unknown strategy 'badge'"):
        active_eval("ncm", Xtr, ytr, Xte, yte, strategies=["badge"])
    with pytest.raises(InputError, match="needs a teacher"):
        active_eval("ncm", Xtr, ytr, Xte, yte, start=0)
    with pytest.raises(InputError, match="pool has 80 rows"):
        active_eval("ncm", Xtr, ytr, Xte, yte, rounds=50, budget=10)


def test_a_callable_strategy_runs_like_a_named_one():
    from headwise.active import margin

    Xtr, ytr, Xte, yte = blobs(scale=1.0, n_train=30)
    calls = []

    def mine(budget, *, X, proba, labeled, labeled_codes, seed):
        calls.append(budget)
        return margin(proba, budget, labeled=labeled, seed=seed)

    r = active_eval("ncm", Xtr, ytr, Xte, yte, strategies={"named": "margin", "mine": mine},
                    rounds=3, budget=2, seeds=2)
    assert calls == [2] * 6
    assert r.strategies["mine"].mean == r.strategies["named"].mean
    assert "mine" in r.to_json()["record"]["settings"]["strategies"]


def test_dho_runs_warm_started_from_one_fit_give_the_cold_result(monkeypatch):
    import headwise.protocols.active as mod

    Xtr, ytr, Xte, yte = blobs(scale=1.0, n_train=30, seed=5)
    teacher = LogisticHead(C=0.01).fit(Xtr[::15], ytr[::15])
    kw = dict(strategies=["entropy"], start=1, rounds=2, budget=4, seeds=2, teacher=teacher)
    warm = active_eval(DHOHead(tol=1e-9), Xtr, ytr, Xte, yte, **kw)
    monkeypatch.setattr(mod, "_dho_template", lambda *a: None)
    cold = active_eval(DHOHead(tol=1e-9), Xtr, ytr, Xte, yte, **kw)
    assert warm.strategies["entropy"].mean == cold.strategies["entropy"].mean
