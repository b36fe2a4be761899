"""Generalized zero-shot: the gate, the smoothed mixture, calibrated stacking, H and AUSUC."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headwise.exceptions import InputError
from headwise.heads._gzsl import SeenUnseenGate, calibrated_stacking, cosmo_combine, gate_features
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


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), S=st.integers(1, 6), U=st.integers(1, 6), n=st.integers(1, 20))
def test_cosmo_mixture_is_a_distribution_for_any_gate(seed: int, S: int, U: int, n: int) -> None:
    """Property: for any expert outputs and any gate value in [0, 1], COSMO's rows are
    distributions whose seen mass is g; g = 1 gives the seen expert, g = 0 the unseen one."""
    rng = np.random.default_rng(seed)
    Ps, Pu = rng.dirichlet(np.ones(S), n), rng.dirichlet(np.ones(U), n)
    g = rng.random(n)
    P = cosmo_combine(Ps, Pu, g)
    assert np.all(P >= 0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(P[:, :S].sum(axis=1), g, atol=1e-12)
    np.testing.assert_allclose(cosmo_combine(Ps, Pu, np.ones(n)), np.hstack([Ps, np.zeros((n, U))]), atol=1e-12)
    np.testing.assert_allclose(cosmo_combine(Ps, Pu, np.zeros(n)), np.hstack([np.zeros((n, S)), Pu]), atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), g1=st.floats(-20, 20), g2=st.floats(-20, 20))
def test_calibrated_stacking_is_monotone_in_gamma(seed: int, g1: float, g2: float) -> None:
    """Property: raising γ never moves a row from an unseen to a seen prediction."""
    rng = np.random.default_rng(seed)
    Ps, Pu = rng.dirichlet(np.ones(4), 30), rng.dirichlet(np.ones(3), 30)
    lo, hi = sorted((g1, g2))
    unseen_lo = np.argmax(calibrated_stacking(Ps, Pu, lo), axis=1) >= 4
    unseen_hi = np.argmax(calibrated_stacking(Ps, Pu, hi), axis=1) >= 4
    assert np.all(unseen_hi >= unseen_lo)


def test_gate_is_logistic_regression_on_the_top_k_features() -> None:
    """Oracle: the gate's logit is sklearn's balanced LogisticRegression on gate_features, and
    the features are the sorted top-k probabilities and the experts' entropies."""
    from scipy.stats import entropy
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(2)
    seen = rng.random(200) < 0.6
    conc = np.where(seen, 0.2, 3.0)[:, None]  # seen rows: a confident seen expert
    Ps = np.vstack([rng.dirichlet(np.full(5, c)) for c in conc[:, 0]])
    Pu = rng.dirichlet(np.ones(3), 200)
    F = gate_features(Ps, Pu, 2)
    np.testing.assert_allclose(F[:, :2], -np.sort(-Ps, axis=1)[:, :2])
    np.testing.assert_allclose(F[:, 4], entropy(Ps, axis=1), rtol=1e-10)
    gate = SeenUnseenGate(k=2, C=0.5).fit(Ps, Pu, seen)
    ref = LogisticRegression(C=0.5, class_weight="balanced", max_iter=1000).fit(F, seen.astype(int))
    np.testing.assert_allclose(gate.logit(Ps, Pu), ref.decision_function(F), rtol=1e-6, atol=1e-8)
    p = gate.predict_proba(Ps, Pu)
    assert np.mean(p[seen] > 0.5) > 0.8 and np.mean(p[~seen] < 0.5) > 0.8


def test_gate_contract_errors() -> None:
    from sklearn.exceptions import NotFittedError

    rng = np.random.default_rng(0)
    Ps, Pu = rng.dirichlet(np.ones(4), 10), rng.dirichlet(np.ones(3), 10)
    with pytest.raises(NotFittedError):
        SeenUnseenGate().logit(Ps, Pu)
    with pytest.raises(InputError, match="one row per example"):
        SeenUnseenGate().fit(Ps, Pu[:5], np.r_[np.ones(5), np.zeros(5)])
    with pytest.raises(InputError, match="both values"):
        SeenUnseenGate().fit(Ps, Pu, np.ones(10))
    with pytest.raises(InputError, match="NaN"):
        SeenUnseenGate().fit(np.full((10, 4), np.nan), Pu, np.r_[np.ones(5), np.zeros(5)])
    with pytest.raises(InputError, match="'k'"):
        SeenUnseenGate(k=0).fit(Ps, Pu, np.r_[np.ones(5), np.zeros(5)])
