"""DHOHead: the dual-head objective, the mixture, the teacher paths and what it buys."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax

from headwise.exceptions import InputError
from headwise.heads import DHOHead, LogisticHead, load_head, save_head
from headwise.heads._soft_linear import (
    best_mixture,
    fit_soft_linear,
    mixture_log_proba,
    tempered_targets,
)

from ._helpers import toy_blobs


def _problem(seed: int = 0, n_per_class: int = 120, noise: float = 2.2):
    """Overlapping blobs: one label per class is not enough, a decent teacher helps."""
    X, y = toy_blobs(n_per_class=n_per_class, n_features=10, n_classes=4, seed=seed)
    rng = np.random.default_rng(seed)
    X = X + rng.normal(scale=noise, size=X.shape)
    # the teacher: a head fitted on a few other labels, its probabilities blurred (like a
    # zero-shot head: mostly right, poorly calibrated)
    t = _teacher(X, y)
    P = softmax(0.5 * np.log(t.predict_proba(X)), axis=1)
    return X, y, P


def _teacher(X: np.ndarray, y: np.ndarray) -> LogisticHead:
    few = np.concatenate([np.flatnonzero(y == c)[-6:] for c in np.unique(y)])
    return LogisticHead(C=0.05).fit(X[few], y[few])


def test_soft_linear_matches_a_numpy_oracle_of_the_same_objective():
    import torch

    X, y = toy_blobs(n_per_class=20, n_features=5)
    Q = softmax(np.random.default_rng(0).normal(size=(y.size, 3)), axis=1)
    T, lam = 2.0, 0.05
    W, b, _ = fit_soft_linear(X, Q, temperature=T, weight_decay=lam, max_iter=1000, tol=1e-10,
                              device=torch.device("cpu"))

    def f(theta):
        Wo, bo = theta[:15].reshape(5, 3), theta[15:]
        kl = (Q * (np.log(Q) - log_softmax((X @ Wo + bo) / T, axis=1))).sum(axis=1)
        return T * T * kl.mean() + 0.5 * lam * (Wo * Wo).sum()

    ref = minimize(f, np.zeros(18), method="BFGS", options={"gtol": 1e-10}).x
    np.testing.assert_allclose(np.r_[W.ravel(), b - b.mean()],
                               np.r_[ref[:15], ref[15:] - ref[15:].mean()], atol=1e-4)


def test_mixture_log_proba_is_the_log_of_the_mixture():
    rng = np.random.default_rng(0)
    zc, zk = rng.normal(size=(6, 4)), rng.normal(size=(6, 4)) * 3
    for a, b in [(0.0, 1.0), (0.35, 0.5), (1.0, 2.0)]:
        want = a * softmax(zc, axis=1) + (1 - a) * softmax(zk / b, axis=1)
        np.testing.assert_allclose(np.exp(mixture_log_proba(zc, zk, a, b)), want, rtol=1e-12)


def test_tempered_targets_equal_softmax_of_logits_over_T():
    z = np.random.default_rng(1).normal(size=(5, 3)) * 4
    np.testing.assert_allclose(tempered_targets(softmax(z, axis=1), 2.0), softmax(z / 2, axis=1))


def test_best_mixture_follows_the_head_that_is_right():
    codes = np.array([0, 1, 0, 1, 0, 1])
    right = np.eye(2)[codes] * 5
    wrong = np.eye(2)[1 - codes] * 5
    j, a, b, acc = best_mixture([wrong, right], wrong, codes, np.linspace(0, 1, 21), [1.0])
    assert (j, acc) == (1, 1.0) and a > 0.5
    _, a2, _, acc2 = best_mixture([wrong], right, codes, np.linspace(0, 1, 21), [1.0, 2.0])
    assert acc2 == 1.0 and a2 < 0.5


@pytest.mark.parametrize("seed", range(3))
def test_dho_beats_the_labels_alone_and_the_teacher_with_one_label_per_class(seed):
    X, y, P = _problem(seed)
    rng = np.random.default_rng(seed)
    lab = np.array([rng.choice(np.flatnonzero(y == c)) for c in range(4)])
    unl = np.setdiff1d(np.arange(y.size), lab)
    test = toy_blobs(n_per_class=200, n_features=10, n_classes=4, seed=seed, noise_seed=9)
    Xte = test[0] + np.random.default_rng(99).normal(scale=2.2, size=test[0].shape)
    dho = DHOHead().fit(X[lab], y[lab], X_unlabeled=X[unl], teacher_proba=np.r_[P[lab], P[unl]])
    ce_only = DHOHead(alpha_step=1.0).fit(X[lab], y[lab])  # α ∈ {0, 1}, no teacher
    acc = dho.score(Xte, test[1])
    assert acc > ce_only.score(Xte, test[1]) + 0.03
    # the teacher here had 6 labels per class; DHO keeps up with it from one
    assert acc > _teacher(X, y).score(Xte, test[1]) - 0.02


def test_teacher_head_equals_its_probabilities():
    X, y, _ = _problem(1, n_per_class=30)
    teacher = LogisticHead(C=0.1).fit(X, y)
    lab, unl = np.arange(0, X.shape[0], 10), np.setdiff1d(np.arange(X.shape[0]), np.arange(0, X.shape[0], 10))
    a = DHOHead().fit(X[lab], y[lab], X_unlabeled=X[unl], teacher=teacher)
    b = DHOHead().fit(X[lab], y[lab], X_unlabeled=X[unl],
                      teacher_proba=teacher.predict_proba(np.r_[X[lab], X[unl]]))
    np.testing.assert_allclose(a.logits(X), b.logits(X), rtol=1e-7, atol=1e-9)
    assert a.has_teacher_ and a.n_unlabeled_ == unl.size


def test_a_class_without_labels_is_learnt_from_the_teacher():
    X, y, P = _problem(2, n_per_class=60)
    lab = np.flatnonzero(y != 3)[:12]  # no row of class 3 labelled
    head = DHOHead().fit(X[lab], y[lab], X_unlabeled=X, teacher_proba=np.r_[P[lab], P],
                         classes=[0, 1, 2, 3])
    assert head.classes_.tolist() == [0, 1, 2, 3]
    assert np.mean(head.predict(X[y == 3]) == 3) > 0.5


def test_save_load_keeps_the_mixture(tmp_path):
    X, y, P = _problem(0, n_per_class=40)
    head = DHOHead(temperature=3.0).fit(X[:40], y[:40], X_unlabeled=X[40:], teacher_proba=P)
    loaded = load_head(save_head(head, tmp_path / "dho.safetensors"))
    np.testing.assert_array_equal(loaded.predict_proba(X), head.predict_proba(X))
    assert (loaded.alpha_, loaded.beta_, loaded.temperature) == (head.alpha_, head.beta_, 3.0)


def test_one_label_per_class_uses_the_fixed_mixture_under_the_plain_decay():
    X, y, P = _problem(0, n_per_class=20)
    lab = np.array([np.flatnonzero(y == c)[0] for c in range(4)])
    head = DHOHead(ce_prior="zero").fit(X[lab], y[lab], X_unlabeled=X, teacher_proba=np.r_[P[lab], P])
    assert (head.alpha_, head.beta_) == (0.5, 1.0) and np.isnan(head.cv_accuracy_)


def test_the_kd_prior_lets_one_label_per_class_be_cross_validated():
    X, y, P = _problem(0, n_per_class=20)
    lab = np.array([np.flatnonzero(y == c)[0] for c in range(4)])
    head = DHOHead().fit(X[lab], y[lab], X_unlabeled=X, teacher_proba=np.r_[P[lab], P])
    assert np.isfinite(head.cv_accuracy_)


def test_anchored_solver_matches_a_numpy_oracle_and_a_huge_decay_returns_the_anchor():
    import torch

    X, y = toy_blobs(n_per_class=15, n_features=4)
    Y = np.eye(3)[y]
    rng = np.random.default_rng(3)
    W0, b0 = rng.normal(size=(4, 3)), rng.normal(size=3)
    lam, cpu = 0.3, torch.device("cpu")
    W, b, _ = fit_soft_linear(X, Y, temperature=1.0, weight_decay=lam, max_iter=1000, tol=1e-10,
                              device=cpu, anchor=(W0, b0))

    def f(theta):
        Wo, bo = theta[:12].reshape(4, 3), theta[12:]
        ce = -(Y * log_softmax(X @ Wo + bo, axis=1)).sum(axis=1).mean()
        return ce + 0.5 * lam * (((Wo - W0) ** 2).sum() + ((bo - b0) ** 2).sum())

    ref = minimize(f, np.zeros(15), method="BFGS", options={"gtol": 1e-10}).x
    np.testing.assert_allclose(np.r_[W.ravel(), b], ref, atol=1e-4)
    Wh, bh, _ = fit_soft_linear(X, Y, temperature=1.0, weight_decay=1e8, max_iter=100, tol=1e-10,
                                device=cpu, anchor=(W0, b0))
    np.testing.assert_allclose(np.r_[Wh.ravel(), bh], np.r_[W0.ravel(), b0], atol=1e-6)


def test_best_mixture_shrinks_to_the_kd_head_on_a_tie():
    codes = np.arange(20) % 2
    kd = np.eye(2)[codes] * 3.0
    kd[:4] = kd[:4, ::-1]  # the KD head is wrong on 4 of 20 rows
    ce_swap = np.eye(2)[codes] * 9  # right where the KD head is wrong ...
    ce_swap[4:8] = ce_swap[4:8, ::-1]  # ... and wrong on 4 others: as many right rows
    alphas = np.linspace(0, 1, 21)
    _, a, b, _ = best_mixture([ce_swap], kd, codes, alphas, [1.0, 2.0])
    assert a > 0  # without shrinkage some mixture wins on log-loss or accuracy
    _, a, b, acc = best_mixture([ce_swap], kd, codes, alphas, [1.0, 2.0], shrink=True)
    assert acc == 0.8 and (a, b) == (0.0, 1.0)  # no mixture gets both groups right: a tie
    ce_right = np.eye(2)[codes] * 9
    _, a, _, acc = best_mixture([ce_right], kd, codes, alphas, [1.0], shrink=True)
    assert a > 0 and acc == 1.0


def test_cv_folds_all_hold_every_row_out_once_and_spread_classes():
    from headwise.heads._soft_linear import cv_folds_all

    codes = np.repeat(np.arange(3), [1, 4, 7])
    fold = cv_folds_all(codes, 5, np.random.default_rng(0))
    assert fold.min() == 0 and fold.max() == 4 and fold.size == codes.size
    assert np.bincount(fold).max() - np.bincount(fold).min() <= 1
    for c in (1, 2):  # a class's rows are spread over distinct folds first
        assert np.unique(fold[codes == c]).size == min(5, np.sum(codes == c))
    assert cv_folds_all(np.array([0]), 5, np.random.default_rng(0)) is None


def test_warm_start_reuses_the_graph_for_the_same_pool_in_another_order():
    X, y, P = _problem(4, n_per_class=30)
    lab_a, lab_b = np.arange(0, y.size, 6), np.arange(3, y.size, 6)

    def fit(head, lab):
        unl = np.setdiff1d(np.arange(y.size), lab)
        return head.fit(X[lab], y[lab], X_unlabeled=X[unl], teacher_proba=np.r_[P[lab], P[unl]])

    warm = DHOHead(warm_start=True, tol=1e-9)
    fit(warm, lab_a)
    key = warm._graph[0]
    fit(warm, lab_b)
    assert warm._graph[0] == key  # same rows as a set: the same graph
    cold = fit(DHOHead(tol=1e-9), lab_b)
    assert cold.propagation_ == warm.propagation_
    np.testing.assert_allclose(warm.predict_proba(X), cold.predict_proba(X), atol=1e-5)


def test_bad_teacher_inputs_are_one_clear_line():
    X, y, P = _problem(0, n_per_class=10)
    with pytest.raises(InputError, match="shape"):
        DHOHead().fit(X, y, teacher_proba=P[:5])
    with pytest.raises(InputError, match="not both"):
        DHOHead().fit(X, y, teacher=LogisticHead(C=1.0).fit(X, y), teacher_proba=P)
    small = LogisticHead(C=1.0).fit(X[y < 2], y[y < 2])
    with pytest.raises(InputError, match="does not know the label"):
        DHOHead().fit(X, y, teacher=small)
    with pytest.raises(InputError, match="temperature"):
        DHOHead(temperature=0).fit(X, y)
    with pytest.raises(InputError, match="X_unlabeled"):
        DHOHead().fit(X, y, X_unlabeled=X[:, :3])
    with pytest.raises(InputError, match="ce_prior"):
        DHOHead(ce_prior="teacher").fit(X, y)
    with pytest.raises(InputError, match="propagation"):
        DHOHead(propagation=(0.5, 1.0)).fit(X, y)
    with pytest.raises(InputError, match="n_neighbors"):
        DHOHead(n_neighbors=0).fit(X, y)


def test_warm_start_reaches_the_same_optimum():
    X, y, P = _problem(3, n_per_class=40)
    lab = np.arange(0, y.size, 4)
    unl = np.setdiff1d(np.arange(y.size), lab)
    kw = dict(X_unlabeled=X[unl], teacher_proba=np.r_[P[lab], P[unl]])
    cold = DHOHead(tol=1e-9).fit(X[lab], y[lab], **kw)
    warm = DHOHead(tol=1e-9, warm_start=True).fit(X[lab[::2]], y[lab[::2]], X_unlabeled=X)
    warm.fit(X[lab], y[lab], **kw)  # starts from a different problem's weights
    assert warm.ce_weight_decay_ == cold.ce_weight_decay_ == 1e-4  # past the grid's edge
    # a gradient below tol = 1e-9 at λ = 1e-4 bounds the weights' error by about tol / λ
    np.testing.assert_allclose(warm.predict_proba(X), cold.predict_proba(X), atol=1e-4)
    again = warm.n_iter_.copy()
    warm.fit(X[lab], y[lab], **kw)  # same problem: starts at the optimum
    assert np.all(warm.n_iter_ <= np.maximum(again, 2))


def test_ce_head_defers_to_the_kd_head_on_unlabelled_classes():
    from headwise.heads._soft_linear import ce_log_proba

    rng = np.random.default_rng(0)
    zc, kd = rng.normal(size=(5, 4)), log_softmax(rng.normal(size=(5, 4)), axis=1)
    seen = np.array([True, True, False, True])
    p = np.exp(ce_log_proba(zc, kd, seen))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[:, 2], np.exp(kd[:, 2]))  # the unseen class: KD's own mass
    inner = softmax(zc[:, seen], axis=1) * np.exp(kd[:, seen]).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(p[:, seen], inner)
    np.testing.assert_allclose(np.exp(ce_log_proba(zc, kd, np.ones(4, bool))), softmax(zc, axis=1))
