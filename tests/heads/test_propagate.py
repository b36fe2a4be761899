"""Label propagation of a teacher over the pool's kNN graph (DHO's smoothing step)."""

from __future__ import annotations

import numpy as np

from headwise.heads._propagate import choose_propagation, knn_affinity, propagate


def _two_moons_teacher(seed: int = 0):
    """Two tight clusters; the teacher is right on 70% of rows, wrong at random elsewhere."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(2, 8)) * 3
    y = np.repeat([0, 1], 150)
    X = centres[y] + rng.normal(scale=0.5, size=(y.size, 8))
    right = rng.random(y.size) < 0.7
    guess = np.where(right, y, 1 - y)
    P = np.where(np.eye(2)[guess] > 0, 0.65, 0.35)
    return X, y, P


def test_affinity_is_symmetric_sparse_and_has_no_self_loops():
    X, _, _ = _two_moons_teacher()
    S = knn_affinity(X, n_neighbors=5)
    assert S.nnz <= 2 * 5 * X.shape[0]  # at most k edges per row, symmetrised: never n x n
    np.testing.assert_allclose((S - S.T).toarray(), 0, atol=1e-12)
    assert np.allclose(S.diagonal(), 0)
    assert np.linalg.eigvalsh(S.toarray()).max() <= 1 + 1e-9  # D^-1/2 W D^-1/2


def test_propagation_fixes_a_noisy_teacher_on_clustered_data():
    X, y, P = _two_moons_teacher()
    S = knn_affinity(X, 10)
    F = propagate(S, P, 0.9)
    np.testing.assert_allclose(F.sum(axis=1), 1)
    assert np.mean(F.argmax(axis=1) == y) > np.mean(P.argmax(axis=1) == y) + 0.2


def test_choose_propagation_checks_on_labelled_rows_and_keeps_the_teacher_without_a_gain():
    X, y, P = _two_moons_teacher(1)
    S = knn_affinity(X, 10)
    rows = np.arange(0, y.size, 10)
    a, F = choose_propagation(S, P, rows, y[rows], [0.0, 0.5, 0.9])
    assert a > 0 and np.mean(F.argmax(axis=1) == y) > 0.9
    # a teacher that is already right everywhere: no smoothing can beat it, so none is taken
    perfect = np.eye(2)[y] * 0.6 + 0.2
    a0, F0 = choose_propagation(S, perfect, rows, y[rows], [0.5, 0.9])
    assert a0 == 0.0 and np.array_equal(F0, perfect)
