"""MLP head: the numpy forward pass equals torch's, losses agree with their numpy forms, selection."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from headwise.exceptions import InputError
from headwise.heads import MLPHead
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
