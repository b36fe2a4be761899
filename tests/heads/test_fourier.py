"""Fourier head: a proper density, and it does not overfit a multi-modal target as softmax does."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from headwise.heads import FourierHead
from headwise.heads._fourier import bin_targets, fourier_bin_probabilities


def _bimodal(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    w = np.array([0.8, -0.5, 0.3, 0.0])
    mode = np.where(rng.random(n) < 0.5, 2.0, -2.0)
    return X, X @ w + mode + rng.normal(scale=0.4, size=n)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), N=st.integers(1, 10))
def test_density_is_non_negative_and_normalised(seed: int, N: int) -> None:
    rng = np.random.default_rng(seed)
    coef = rng.normal(size=(5, N + 1)) + 1j * rng.normal(size=(5, N + 1))
    centres = np.linspace(-0.99, 0.99, 40)
    P = fourier_bin_probabilities(coef, centres)
    assert np.all(P > 0) and np.allclose(P.sum(axis=1), 1.0)
    # the autocorrelation form equals |Σ a_j e^{iπjt}|² / (2 c0) up to normalisation
    direct = np.abs(coef @ np.exp(1j * np.pi * np.outer(np.arange(N + 1), centres))) ** 2
    np.testing.assert_allclose(P, direct / direct.sum(axis=1, keepdims=True), rtol=1e-6, atol=1e-12)


def _softmax_over_bins_nll(X, codes, Xt, ct, B, epochs=500) -> float:
    torch.manual_seed(0)
    m, s = X.mean(0), X.std(0)
    Z = torch.as_tensor((X - m) / s)
    lin = torch.nn.Linear(4, B).double()
    opt = torch.optim.Adam(lin.parameters(), lr=0.01)
    for _ in range(epochs):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(lin(Z), torch.as_tensor(codes)).backward()
        opt.step()
    with torch.no_grad():
        logp = torch.log_softmax(lin(torch.as_tensor((Xt - m) / s)), dim=1).numpy()
    return float(-logp[np.arange(ct.size), ct].mean())


def test_beats_softmax_over_bins_on_a_bimodal_target() -> None:
    X, y = _bimodal(300, 0)
    Xt, yt = _bimodal(3000, 1)
    head = FourierHead(n_bins=50, n_frequencies=12).fit(X, y)
    edges = np.linspace(y.min(), y.max(), 51)
    keep = (yt >= y.min()) & (yt <= y.max())
    ct = np.clip(np.searchsorted(edges, yt[keep], side="right") - 1, 0, 49)
    nll_fourier = float(-head.predict_log_proba(Xt[keep])[np.arange(ct.size), ct].mean())
    codes, _, _ = bin_targets(y, 50)
    nll_softmax = _softmax_over_bins_nll(X, codes, Xt[keep], ct, 50)
    assert nll_fourier < nll_softmax - 0.05
    # bimodal: the predicted density has mass near both modes
    P = head.predict_proba(np.zeros((1, 4)))[0]
    c = head.classes_
    modes = [P[np.abs(c - m) < 0.5].sum() for m in (2.0, -2.0)]
    trough = P[np.abs(c) < 0.5].sum()
    assert min(modes) > 0.1 and min(modes) > 5 * trough
    lohi = head.predict_interval(Xt, 0.9)
    assert np.mean((yt >= lohi[:, 0]) & (yt <= lohi[:, 1])) > 0.8
    assert np.abs(head.predict_mean(Xt) - (Xt @ np.array([0.8, -0.5, 0.3, 0.0]))).mean() < 1.0


def test_parameter_messages_state_the_range_they_check() -> None:
    from headwise.exceptions import InputError
    from headwise.heads import get_head

    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.repeat([0, 1], 10)
    with pytest.raises(InputError, match=r"'n_bins' parameter of FourierHead must be an int in the range \[2, inf\)"):
        get_head("fourier", n_bins=1).fit(X, y)  # it checked >= 2 but said >= 1
    with pytest.raises(InputError, match=r"'gamma' parameter of FourierHead must be a float in the range \[0, inf\)"):
        get_head("fourier", gamma=-1.0).fit(X, y)
