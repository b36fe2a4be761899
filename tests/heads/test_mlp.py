"""MLP head: the numpy forward pass equals torch's, losses agree with their numpy forms, selection."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from headwise.exceptions import InputError
from headwise.heads import LogisticHead, MLPHead
from headwise.heads._losses import torch_loss, zloss_terms

from ._helpers import toy_blobs

FAST = {"width": 16, "lr": 0.01, "max_epochs": 30, "patience": 5, "device": "cpu"}


def test_numpy_forward_equals_torch() -> None:
    X, y = toy_blobs()
    head = MLPHead(param_grid={}, hidden_layers=2, **FAST).fit(X, y)
    net = torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16), torch.nn.ReLU(),
        torch.nn.Linear(16, 3),
    ).double()
    with torch.no_grad():
        for i, layer in enumerate([net[0], net[2], net[4]]):
            layer.weight.copy_(torch.from_numpy(getattr(head, f"W{i}_").T))
            layer.bias.copy_(torch.from_numpy(getattr(head, f"b{i}_")))
        ref = net(torch.from_numpy((X - head.x_mean_) / head.x_scale_)).numpy()
    np.testing.assert_allclose(head.logits(X), ref, rtol=1e-10, atol=1e-10)


def test_torch_zloss_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    o, c = rng.normal(size=(6, 4)), rng.integers(0, 4, 6)
    t = torch_loss("zloss", torch.from_numpy(o), torch.from_numpy(c), a=0.5, b=1.2)
    assert float(t) == pytest.approx(zloss_terms(o, c, 0.5, 1.2)[0] / 6)


@pytest.mark.parametrize("loss", ["zloss", "balanced_softmax"])
@pytest.mark.parametrize("layers", [0, 1])
def test_loss_options_learn(loss: str, layers: int) -> None:
    X, y = toy_blobs()
    Xt, yt = toy_blobs(n_per_class=10, noise_seed=1)
    head = MLPHead(param_grid={}, loss=loss, hidden_layers=layers, **FAST).fit(X, y)
    assert np.mean(head.predict(Xt) == yt) > 0.9


def test_grid_choice_and_errors() -> None:
    X, y = toy_blobs()
    head = MLPHead(param_grid={"lr": [1e-5, 0.01]}, **{k: v for k, v in FAST.items() if k != "lr"}).fit(X, y)
    assert head.best_params_["lr"] == 0.01  # 1e-5 barely moves in 30 epochs
    with pytest.raises(InputError, match="unknown keys"):
        MLPHead(param_grid={"depth": [3]}).fit(X, y)
    with pytest.raises(InputError, match="loss"):
        MLPHead(loss="hinge").fit(X, y)


def test_zloss_gradient_matches_torch_autograd() -> None:
    """The numpy Z-loss gradient (used to reason about the linear case) equals autograd's."""
    rng = np.random.default_rng(1)
    o, c = rng.normal(size=(7, 5)), rng.integers(0, 5, 7)
    ot = torch.from_numpy(o).requires_grad_(True)
    (torch_loss("zloss", ot, torch.from_numpy(c), a=0.7, b=1.5) * 7).backward()
    np.testing.assert_allclose(zloss_terms(o, c, 0.7, 1.5)[1], ot.grad.numpy(), rtol=1e-9, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), lam=st.floats(1e-3, 1e3), shift=st.floats(-50, 50))
def test_zloss_is_shift_and_scale_invariant(seed: int, lam: float, shift: float) -> None:
    rng = np.random.default_rng(seed)
    o, c = rng.normal(size=(5, 4)), rng.integers(0, 4, 5)
    # the shift costs digits: |shift| / lam up to 5e4 times the spread, so float64 keeps ~1e-11
    # per logit, and the standardisation amplifies it; 1e-6 still fails any real scale dependence
    assert zloss_terms(lam * o + shift, c)[0] == pytest.approx(zloss_terms(o, c)[0], rel=1e-6)


def test_l2_penalised_linear_zloss_has_no_minimiser() -> None:
    """Why LogisticHead has no zloss option: along the ray (λW, λc) the Z-loss of a linear
    model is constant and the L2 penalty falls, so the penalised objective keeps decreasing as
    λ → 0 while W = 0 itself (constant logits) is worse: there is no minimiser to find."""
    X, y = toy_blobs()
    rng = np.random.default_rng(0)
    W, c = rng.normal(size=(X.shape[1], 3)), rng.normal(size=3)
    C = 1.0

    def objective(lam: float) -> float:
        return zloss_terms(X @ (lam * W) + lam * c, y)[0] / len(y) + (lam**2) * np.sum(W**2) / (2 * C)

    values = [objective(lam) for lam in (1.0, 0.1, 1e-2, 1e-4)]
    assert all(a > b for a, b in zip(values, values[1:], strict=False))
    data_loss = zloss_terms(X @ W + c, y)[0] / len(y)
    assert values[-1] == pytest.approx(data_loss, rel=1e-6)  # the infimum: the unpenalised loss
    best = MLPHead(param_grid={}, hidden_layers=0, loss="zloss", **FAST).fit(X, y)
    learnt = zloss_terms(best.logits(X), y)[0] / len(y)
    constant = min(zloss_terms(np.tile(np.eye(3)[k], (len(y), 1)) + 1e-9 * rng.normal(size=(len(y), 3)), y)[0]
                   for k in range(3)) / len(y)  # fmt: skip
    assert learnt < constant  # W = 0 (constant logits) is not where the infimum is
    with pytest.raises(InputError, match=r"no minimiser.*hidden_layers=0"):
        LogisticHead(loss="zloss").fit(X, y)


def test_linear_zloss_probe_is_linear_in_the_embeddings() -> None:
    """hidden_layers=0 is a linear model: logits = standardised X @ W0 + b0, nothing else."""
    X, y = toy_blobs()
    head = MLPHead(param_grid={}, hidden_layers=0, loss="zloss", **FAST).fit(X, y)
    assert head.n_layers_ == 1 and not hasattr(head, "W1_")
    Z = (X - head.x_mean_) / head.x_scale_
    np.testing.assert_allclose(head.logits(X), Z @ head.W0_ + head.b0_, rtol=1e-12, atol=1e-12)


def test_linear_ce_training_reaches_the_logistic_optimum() -> None:
    """Oracle for the training loop: with no hidden layer, no weight decay and full batches,
    train_mlp minimises the same cross-entropy as unpenalised multinomial logistic regression."""
    from sklearn.linear_model import LogisticRegression

    from headwise.heads._mlp import train_mlp

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 240)
    X = np.eye(3)[y] @ rng.normal(size=(3, 4)) * 0.8 + rng.normal(size=(240, 4))  # overlapping
    ref = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(X, y)
    nll_ref = -np.mean(ref.predict_log_proba(X)[np.arange(240), y])
    weights, *_ = train_mlp(X, y, 3, hidden_layers=0, width=1, dropout=0.0, lr=0.05, weight_decay=0.0,
                            loss="ce", batch_size=240, max_epochs=3000, seed=0, device="cpu")  # fmt: skip
    z = X @ weights[0] + weights[1]
    nll = -np.mean(z[np.arange(240), y] - np.logaddexp.reduce(z, axis=1))
    assert nll == pytest.approx(nll_ref, abs=2e-4)
