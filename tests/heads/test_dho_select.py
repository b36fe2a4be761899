"""DHO's cross-validated choice of the CE head: prior centre, weight decay, α and β."""

from __future__ import annotations

import numpy as np
import pytest

from headwise.exceptions import InputError
from headwise.heads import DHOHead
from headwise.heads._dho_select import ce_candidates, choose_ce_mixture, param_grid

from ._helpers import toy_blobs


def _opts():
    import torch

    return {"max_iter": 300, "tol": 1e-8, "device": torch.device("cpu")}


def _wrong_teacher(X: np.ndarray, y: np.ndarray, K: int):
    """A KD head that names the next class: confidently wrong on every row."""
    W = np.zeros((X.shape[1], K))
    for c in range(K):
        W[:, (c + 1) % K] += X[y == c].mean(axis=0)
    return 3.0 * W, np.zeros(K)


@pytest.mark.parametrize(
    ("prior", "codes", "want"),
    [
        ("auto", [0, 0, 1, 1], [(False, 0.1), (False, 1.0), (True, 0.1), (True, 1.0)]),
        ("auto", [0, 1, 1], [(True, 0.1), (True, 1.0)]),  # a class with one row: KD-centred only
        ("kd", [0, 0, 1, 1], [(True, 0.1), (True, 1.0)]),
        ("zero", [0, 0, 1, 1], [(False, 0.1), (False, 1.0)]),
    ],
)
def test_candidates_offer_the_zero_centred_head_only_where_it_can_be_judged(prior, codes, want):
    assert ce_candidates(np.array([1.0, 0.1]), prior, np.array(codes), True) == want


def test_without_a_teacher_every_candidate_is_zero_centred():
    assert ce_candidates(np.array([1.0]), "auto", np.array([0, 0, 1, 1]), False) == [(False, 1.0)]


def test_a_wrong_teacher_loses_to_the_labels_own_head_when_both_are_offered():
    X, y = toy_blobs(n_per_class=12, n_features=6, n_classes=3, seed=1)
    kd = _wrong_teacher(X, y, 3)
    # one strong penalty: centred on the KD head it returns the wrong teacher, on zero it learns
    cands = ce_candidates(np.array([10.0]), "auto", y, True)
    choice = choose_ce_mixture(
        X, y, kd, cands, alphas=np.linspace(0, 1, 21), betas=np.array([1.0]),
        seen=np.ones(3, dtype=bool), n_folds=3, rng=np.random.default_rng(0), shrink=True,
        opts=_opts(),
    )  # fmt: skip
    assert not choice.anchored and choice.alpha > 0.5 and choice.cv_accuracy > 0.9
    only_kd = choose_ce_mixture(
        X, y, kd, ce_candidates(np.array([10.0]), "kd", y, True), alphas=np.linspace(0, 1, 21),
        betas=np.array([1.0]), seen=np.ones(3, dtype=bool), n_folds=3,
        rng=np.random.default_rng(0), shrink=True, opts=_opts(),
    )  # fmt: skip
    assert only_kd.anchored and only_kd.cv_accuracy < choice.cv_accuracy


def test_dho_auto_reaches_the_labels_head_that_the_kd_prior_cannot():
    X, y = toy_blobs(n_per_class=40, n_features=6, n_classes=3, seed=2)
    Xte, yte = toy_blobs(n_per_class=100, n_features=6, n_classes=3, seed=2, noise_seed=5)
    W, b = _wrong_teacher(X, y, 3)
    from scipy.special import softmax

    P = softmax(X @ W + b, axis=1)
    lab = np.concatenate([np.flatnonzero(y == c)[:10] for c in range(3)])
    unl = np.setdiff1d(np.arange(y.size), lab)
    kw = {"X_unlabeled": X[unl], "teacher_proba": np.r_[P[lab], P[unl]]}
    grid = {"ce_weight_decays": (10.0,), "propagation": (0.0,)}
    auto = DHOHead(**grid).fit(X[lab], y[lab], **kw)
    kd = DHOHead(ce_prior="kd", **grid).fit(X[lab], y[lab], **kw)
    assert auto.ce_anchored_ is False and kd.ce_anchored_ is True
    assert auto.score(Xte, yte) > 0.9 and auto.score(Xte, yte) > kd.score(Xte, yte)


def test_param_grid_rejects_empty_and_out_of_range_values():
    for bad in ((), (0.0,), (np.nan,), "x"):
        with pytest.raises(InputError, match="betas"):
            param_grid(bad, "betas", "DHOHead", 0.0, np.inf, True)
    with pytest.raises(InputError, match="ce_prior"):
        DHOHead(ce_prior="teacher").fit(np.eye(2), [0, 1])


def test_a_choice_at_the_grids_weakest_decay_goes_on_lower():
    X, y = toy_blobs(n_per_class=12, n_features=6, n_classes=3, seed=1)
    kd = _wrong_teacher(X, y, 3)  # every decay pulls toward a wrong head: the weakest wins
    cands = ce_candidates(np.array([10.0, 1.0]), "kd", y, True)
    kw = dict(alphas=np.linspace(0, 1, 21), betas=np.array([1.0]), seen=np.ones(3, dtype=bool),
              n_folds=3, shrink=True, opts=_opts())  # fmt: skip
    edge = choose_ce_mixture(X, y, kd, cands, rng=np.random.default_rng(0), **kw)
    assert edge.weight_decay == 1.0  # the grid's edge
    on = choose_ce_mixture(X, y, kd, cands, rng=np.random.default_rng(0), extend=2, **kw)
    assert on.weight_decay in (0.1, 0.01) and on.cv_accuracy > edge.cv_accuracy + 0.3
    # a right teacher: the KD head alone is kept, so nothing is extended
    W, b = kd
    right = (np.roll(W, -1, axis=1), b)
    kept = choose_ce_mixture(X, y, right, cands, rng=np.random.default_rng(0), extend=2, **kw)
    assert kept.alpha == 0.0 and kept.weight_decay == 10.0


def test_dho_extends_a_searched_grid_but_keeps_a_single_decay_fixed():
    X, y = toy_blobs(n_per_class=12, n_features=6, n_classes=3, seed=1)
    W, b = _wrong_teacher(X, y, 3)
    from scipy.special import softmax

    P = softmax(X @ W + b, axis=1)
    kw = {"X_unlabeled": X, "teacher_proba": np.r_[P, P]}
    fixed = DHOHead(ce_weight_decays=(0.1,), ce_prior="kd", propagation=(0.0,)).fit(X, y, **kw)
    searched = DHOHead(ce_weight_decays=(1.0, 0.1), ce_prior="kd", propagation=(0.0,)).fit(X, y, **kw)
    assert fixed.ce_weight_decay_ == 0.1 and searched.ce_weight_decay_ in (0.01, 0.001)
    assert searched.cv_accuracy_ > fixed.cv_accuracy_
    off = DHOHead(ce_weight_decays=(1.0, 0.1), ce_prior="kd", propagation=(0.0,), extend_decays=0)
    assert off.fit(X, y, **kw).ce_weight_decay_ == 0.1
    with pytest.raises(InputError, match="extend_decays"):
        DHOHead(extend_decays=-1).fit(X, y)
