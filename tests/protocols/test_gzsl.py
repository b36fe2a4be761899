"""Generalized zero-shot: the gate, the smoothed mixture, calibrated stacking, H and AUSUC."""

from __future__ import annotations

import numpy as np
import pytest

from headwise.exceptions import InputError
from headwise.heads._gzsl import calibrated_stacking, cosmo_combine
from headwise.protocols.gzsl import ausuc, gzsl_eval, harmonic_mean


def _world(seed: int = 0, K: int = 12, d: int = 16):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(K, d)) * 2.0
    y = np.repeat(np.arange(K), 60)
    X = centres[y] + rng.normal(size=(y.size, d))
    yt = np.repeat(np.arange(K), 30)
    Xt = centres[yt] + rng.normal(size=(yt.size, d))
    vectors = {c: centres[c] + rng.normal(scale=0.3, size=d) for c in range(K)}  # "name embeddings"
    return X, y, Xt, yt, vectors


def test_cosmo_rows_are_distributions_and_follow_the_gate() -> None:
    rng = np.random.default_rng(0)
    Ps, Pu = rng.dirichlet(np.ones(4), 5), rng.dirichlet(np.ones(3), 5)
    g = rng.random(5)
    P = cosmo_combine(Ps, Pu, g)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_allclose(P[:, :4].sum(axis=1), g)  # the gate splits the mass
    assert np.all(np.argmax(cosmo_combine(Ps, Pu, np.ones(5)), axis=1) < 4)


def test_calibrated_stacking_gamma_moves_predictions_to_unseen() -> None:
    rng = np.random.default_rng(1)
    Ps, Pu = rng.dirichlet(np.ones(4), 50), rng.dirichlet(np.ones(3), 50)
    low = np.argmax(calibrated_stacking(Ps, Pu, -10.0), axis=1)
    high = np.argmax(calibrated_stacking(Ps, Pu, 10.0), axis=1)
    assert np.all(low < 4) and np.all(high >= 4)


def test_metrics() -> None:
    assert harmonic_mean(0.5, 0.5) == 0.5 and harmonic_mean(1.0, 0.0) == 0.0
    assert ausuc([(0.0, 1.0), (1.0, 1.0)]) == pytest.approx(1.0)  # perfect on both
    assert ausuc([(0.0, 1.0), (1.0, 0.0)]) == pytest.approx(0.5)


def test_gzsl_eval_gate_beats_seen_only() -> None:
    X, y, Xt, yt, vectors = _world()
    res = gzsl_eval(X, y, Xt, yt, class_vectors=vectors, unseen=[9, 10, 11], seen_head="lda")
    only, cosmo, cs = (res.methods[m] for m in ("seen_head_only", "cosmo", "calibrated_stacking"))
    assert only.unseen == 0.0 and only.harmonic == 0.0
    assert cosmo.unseen > 0.3 and cosmo.harmonic > 0.3
    assert cs.unseen > 0.3 and cs.harmonic > 0.3
    for s in (cosmo, cs):
        assert 0.0 <= s.ausuc <= 1.0 and s.ausuc >= s.seen * s.unseen - 1e-9
    assert res.n_seen_classes == 9
    with pytest.raises(InputError, match="class vector"):
        gzsl_eval(X, y, Xt, yt, class_vectors={0: vectors[0]}, unseen=[11], seen_head="lda")
