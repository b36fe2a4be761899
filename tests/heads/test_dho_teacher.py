"""DHO's prototype teacher moved toward the pool (``pool_prototypes``)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from headwise.exceptions import InputError
from headwise.heads import DHOHead, ZeroShotHead
from headwise.heads._teacher import pool_prototypes, prototype_probabilities


def _unit(A):
    return A / np.linalg.norm(A, axis=-1, keepdims=True)


def _zero_shot(W: np.ndarray, scale: float = 20.0) -> ZeroShotHead:
    """A zero-shot head whose class vectors are ``W`` (as ``fit_names`` would set them)."""
    head = ZeroShotHead(scale=scale)
    head.classes_, head.coef_, head.n_features_in_ = np.arange(W.shape[0]), _unit(W), W.shape[1]
    return head


def _problem(seed: int = 0, n: int = 150):
    """Three clusters on the sphere; the 'names' point between them (a weak zero-shot head)."""
    rng = np.random.default_rng(seed)
    means = np.eye(3, 8) * 3.0
    y = np.repeat(np.arange(3), n)
    X = means[y] + rng.normal(scale=0.9, size=(y.size, 8))
    names = _unit(means + 1.6 * rng.normal(size=means.shape) + 1.5)  # off-centre, shared drift
    return X, y, _zero_shot(names, scale=10.0)


def test_pool_prototypes_match_a_per_class_loop():
    rng = np.random.default_rng(1)
    X, W = rng.normal(size=(40, 5)), _unit(rng.normal(size=(3, 5)))
    P = softmax(4.0 * _unit(X) @ W.T, axis=1)
    got = pool_prototypes(X, P, W, 0.3)
    want_W = []
    for k in range(3):  # centroid of the unit rows weighted by the teacher, mixed with the name
        c = sum(P[i, k] * X[i] / np.linalg.norm(X[i]) for i in range(40))
        want_W.append(_unit(0.7 * W[k] + 0.3 * _unit(c)))
    np.testing.assert_allclose(got, np.array(want_W), rtol=1e-10)
    np.testing.assert_allclose(pool_prototypes(X, P, W, 0.0), W, rtol=1e-10)
    np.testing.assert_allclose(prototype_probabilities(X, W, 4.0), P, rtol=1e-10)


def test_moving_the_teacher_to_the_pool_fixes_off_centre_names():
    X, y, zs = _problem()
    P = zs.predict_proba(X)
    moved = prototype_probabilities(X, pool_prototypes(X, P, zs.coef_, 0.5), zs.scale)
    assert np.mean(moved.argmax(1) == y) > np.mean(P.argmax(1) == y) + 0.05


def test_dho_distils_the_moved_teacher_and_reports_it():
    X, y, zs = _problem(2)
    rng = np.random.default_rng(0)
    lab = np.concatenate([rng.choice(np.flatnonzero(y == c), 1) for c in range(3)])
    unl = np.setdiff1d(np.arange(y.size), lab)
    moved = DHOHead().fit(X[lab], y[lab], X_unlabeled=X[unl], teacher=zs)
    plain = DHOHead(pool_prototypes=0.0).fit(X[lab], y[lab], X_unlabeled=X[unl], teacher=zs)
    given = DHOHead().fit(X[lab], y[lab], X_unlabeled=X[unl],
                          teacher_proba=zs.predict_proba(np.r_[X[lab], X[unl]]))
    assert moved.teacher_adapted_ and not plain.teacher_adapted_ and not given.teacher_adapted_
    assert moved.score(X, y) > plain.score(X, y) + 0.03
    # probabilities alone carry no class vectors: the teacher as given, the same fit as weight 0
    np.testing.assert_allclose(given.predict_proba(X), plain.predict_proba(X), atol=1e-6)


def test_the_teacher_as_given_is_kept_when_the_labels_clearly_prefer_it():
    X, y, zs = _problem(3)
    P = zs.predict_proba(X)
    moved = prototype_probabilities(X, pool_prototypes(X, P, zs.coef_, 0.5), zs.scale)
    differ = np.flatnonzero(P.argmax(1) != moved.argmax(1))
    assert differ.size >= 12
    lab = differ[:12]  # labelled rows labelled as the plain teacher says: it wins all 12
    head = DHOHead(propagation=(0.0,))
    unl = np.setdiff1d(np.arange(y.size), lab)
    head.fit(X[lab], P.argmax(1)[lab], X_unlabeled=X[unl], teacher=zs)
    assert not head.teacher_adapted_


@pytest.mark.parametrize("bad", [-0.1, 1.5, "half", True])
def test_bad_pool_prototypes_is_one_clear_line(bad):
    X, y, zs = _problem(0, n=10)
    with pytest.raises(InputError, match="pool_prototypes"):
        DHOHead(pool_prototypes=bad).fit(X, y, X_unlabeled=X, teacher=zs)
