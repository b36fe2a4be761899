"""MLP head: 1–2 hidden layers in torch, early stopping, settings chosen on held-out rows.

Training runs in torch on whatever device is present; the fitted weights are numpy arrays and
prediction is a numpy forward pass, so the head takes and returns numpy and saves without pickle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
from sklearn.model_selection import ParameterGrid

from .._validation import check_param_choice, check_param_float, check_param_int
from ..exceptions import InputError, MissingDependencyError
from ._base import BaseHead
from ._holdout import stratified_holdout
from ._losses import balanced_softmax_offsets, check_loss, torch_loss
from ._registry import register_head

__all__ = ["MLPHead", "train_mlp"]

#: Searched on the held-out rows, like hear-eval-kit's grid (a smaller one: this runs on CPUs).
DEFAULT_GRID: dict[str, list[Any]] = {
    "width": [512],
    "lr": [1e-3, 3.2e-4],
    "weight_decay": [0.0, 1e-4],
}


def _torch() -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a core dependency here
        raise MissingDependencyError("The MLP head needs torch: pip install headwise[torch]") from None
    return torch


def _device(name: str) -> Any:
    torch = _torch()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def train_mlp(
    X: np.ndarray, codes: np.ndarray, n_classes: int, *, hidden_layers: int, width: int,
    dropout: float, lr: float, weight_decay: float, loss: str, batch_size: int, max_epochs: int,
    seed: int, device: str = "auto", val: tuple[np.ndarray, np.ndarray] | None = None,
    patience: int = 10, epochs: int | None = None,
) -> tuple[list[np.ndarray], int, float, float]:  # fmt: skip
    """Train one MLP; return its weights ``[W0, b0, W1, b1, ...]`` (numpy, ``W`` as (in, out)),
    the epochs it ran (the best epoch with ``val``), and the best validation accuracy and loss.

    With ``val`` the weights of the epoch with the best validation accuracy (ties: lower
    cross-entropy) are kept and training stops after ``patience`` epochs without improvement;
    without it, exactly ``epochs`` (or ``max_epochs``) epochs run.
    """
    torch = _torch()
    dev = _device(device)
    gen = torch.Generator().manual_seed(int(seed))
    torch.manual_seed(int(seed))
    dims = [X.shape[1]] + [int(width)] * int(hidden_layers) + [int(n_classes)]
    layers: list[Any] = []
    for i in range(len(dims) - 1):
        layers.append(torch.nn.Linear(dims[i], dims[i + 1]))
        if i < len(dims) - 2:
            layers += [torch.nn.ReLU(), torch.nn.Dropout(float(dropout))]
    net = torch.nn.Sequential(*layers).to(dev)
    opt = torch.optim.AdamW(net.parameters(), lr=float(lr), weight_decay=float(weight_decay))
    Xt = torch.as_tensor(X, dtype=torch.float32, device=dev)
    yt = torch.as_tensor(codes, dtype=torch.long, device=dev)
    offsets = torch.as_tensor(
        balanced_softmax_offsets(np.bincount(codes, minlength=n_classes)), dtype=torch.float32, device=dev
    )
    if val is not None:
        Xv = torch.as_tensor(val[0], dtype=torch.float32, device=dev)
        yv = torch.as_tensor(val[1], dtype=torch.long, device=dev)
    n = Xt.shape[0]
    best = (-1.0, np.inf, 0, [p.detach().clone() for p in net.parameters()])
    stale = 0
    run = int(epochs) if epochs is not None else int(max_epochs)
    done = 0
    for epoch in range(1, run + 1):
        net.train()
        perm = torch.randperm(n, generator=gen).to(dev)
        for start in range(0, n, int(batch_size)):
            idx = perm[start : start + int(batch_size)]
            opt.zero_grad()
            torch_loss(loss, net(Xt[idx]), yt[idx], offsets).backward()
            opt.step()
        done = epoch
        if val is None:
            continue
        net.eval()
        with torch.no_grad():
            logits = net(Xv) - (offsets if loss == "balanced_softmax" else 0.0)
            acc = float((logits.argmax(dim=1) == yv).float().mean())
            ce = float(torch.nn.functional.cross_entropy(logits, yv))
        if (acc, -ce) > (best[0], -best[1]):
            best, stale = (acc, ce, epoch, [p.detach().clone() for p in net.parameters()]), 0
        else:
            stale += 1
            if stale >= patience:
                break
    params = best[3] if val is not None else [p.detach() for p in net.parameters()]
    weights = []
    for i, p in enumerate(params):
        a = p.cpu().numpy().astype(np.float64)
        weights.append(a.T.copy() if i % 2 == 0 else a.copy())  # Linear stores (out, in)
    if loss == "balanced_softmax":
        weights[-1] = weights[-1] - offsets.cpu().numpy().astype(np.float64)
    return weights, (best[2] if val is not None else done), float(best[0]), float(best[1])


@register_head("mlp")
class MLPHead(BaseHead):
    """A small MLP on standardised embeddings, trained with AdamW and early stopping.

    ``fit`` holds out a stratified ``validation_fraction`` of the rows, trains one network per
    point of ``param_grid`` (width, learning rate, weight decay...) with early stopping on the
    held-out accuracy, keeps the best point and its best epoch count, then retrains on all rows
    for that many epochs. Every run is seeded by ``random_state``.

    Parameters
    ----------
    hidden_layers : {0, 1, 2}, default=1
        ``0`` is a linear softmax probe trained the same way: with ``loss="zloss"`` it is the
        Z-loss variant of the logistic head (the Z-loss is invariant to the logits' scale, so the
        logistic head's L-BFGS fit with an L2 penalty has no minimiser for it: the penalty would
        shrink the weights without end; early stopping regularises instead).
    width : int, default=512
    dropout : float in [0, 1), default=0.1
    lr : float, default=1e-3
    weight_decay : float, default=0.0
    param_grid : dict of lists or None, default=None
        Settings searched on the held-out rows (keys: width, lr, weight_decay, dropout,
        hidden_layers); ``None`` uses ``DEFAULT_GRID``; ``{}`` trains the given settings only.
    loss : {"ce", "balanced_softmax", "zloss"}, default="ce"
        See :mod:`headwise.heads._losses`.
    batch_size : int, default=256
    max_epochs : int, default=100
    patience : int, default=10
    validation_fraction : float in (0, 1), default=0.1
    device : str, default="auto"
        ``"auto"``: CUDA when present, else CPU; or any torch device string.
    random_state : int, default=0

    Attributes
    ----------
    classes_, n_layers_, W0_, b0_, ... (the weights, numpy), x_mean_, x_scale_,
    best_params_ (the chosen settings), n_epochs_, val_accuracy_

    Examples
    --------
    >>> X = np.r_[np.zeros((20, 2)), np.ones((20, 2))] + np.random.default_rng(0).normal(0, .1, (40, 2))
    >>> MLPHead(param_grid={}, max_epochs=30).fit(X, [0] * 20 + [1] * 20).predict([[1.0, 1.0]]).tolist()
    [1]
    """

    def __init__(
        self,
        hidden_layers: int = 1,
        width: int = 512,
        dropout: float = 0.1,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        param_grid: Mapping[str, Sequence[Any]] | None = None,
        loss: str = "ce",
        batch_size: int = 256,
        max_epochs: int = 100,
        patience: int = 10,
        validation_fraction: float = 0.1,
        device: str = "auto",
        random_state: int = 0,
    ) -> None:
        self.hidden_layers = hidden_layers
        self.width = width
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.param_grid = param_grid
        self.loss = loss
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state

    def _settings(self) -> list[dict[str, Any]]:
        owner = type(self).__name__
        check_loss(self.loss, owner)
        for name in ("width", "batch_size", "max_epochs", "patience"):
            check_param_int(getattr(self, name), name, owner)
        check_param_choice(self.hidden_layers, "hidden_layers", owner, (0, 1, 2))
        check_param_float(self.dropout, "dropout", owner, 0.0, 1.0)
        check_param_float(self.validation_fraction, "validation_fraction", owner, 0.0, 1.0, low_open=True)
        check_param_float(self.lr, "lr", owner, 0.0, low_open=True)
        check_param_float(self.weight_decay, "weight_decay", owner, 0.0)
        base = {"hidden_layers": self.hidden_layers, "width": self.width, "dropout": self.dropout,
                "lr": self.lr, "weight_decay": self.weight_decay}  # fmt: skip
        grid = DEFAULT_GRID if self.param_grid is None else dict(self.param_grid)
        unknown = set(grid) - set(base)
        if unknown:
            raise InputError(f"param_grid of {owner} has unknown keys {sorted(unknown)}; use {sorted(base)}.")
        return [{**base, **p} for p in ParameterGrid(grid)] if grid else [base]

    def fit(self, X: Any, y: Any) -> Self:
        """Fit on embeddings ``X`` (n, d) and labels ``y``; see the class docstring."""
        settings = self._settings()
        X, y = self._validate_fit(X, y)
        self._require_two_classes(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        X64 = np.asarray(X, dtype=np.float64)
        self.x_mean_ = X64.mean(axis=0)
        scale = X64.std(axis=0)
        self.x_scale_ = np.where(scale > 1e-12, scale, 1.0)
        Z = ((X64 - self.x_mean_) / self.x_scale_).astype(np.float32)
        K = self.classes_.size
        common = {"loss": self.loss, "batch_size": self.batch_size, "max_epochs": self.max_epochs,
                  "seed": self.random_state, "device": self.device}  # fmt: skip
        split = stratified_holdout(codes, self.validation_fraction, self.random_state)
        chosen, epochs, self.val_accuracy_ = settings[0], self.max_epochs, float("nan")
        if split is not None:
            tr, va = split
            best: tuple[float, float] | None = None
            for s in settings:
                _, ep, acc, ce = train_mlp(Z[tr], codes[tr], K, **s, **common, val=(Z[va], codes[va]),
                                           patience=self.patience)  # fmt: skip
                if best is None or (acc, -ce) > best:
                    best, chosen, epochs, self.val_accuracy_ = (acc, -ce), s, ep, acc
        weights, self.n_epochs_, _, _ = train_mlp(Z, codes, K, **chosen, **common, epochs=epochs)
        self.best_params_ = {k: chosen[k] for k in sorted(chosen)}
        self.n_layers_ = len(weights) // 2
        for i in range(self.n_layers_):
            setattr(self, f"W{i}_", weights[2 * i])
            setattr(self, f"b{i}_", weights[2 * i + 1])
        return self

    def _logits(self, X: np.ndarray) -> np.ndarray:
        h = (np.asarray(X, dtype=np.float64) - self.x_mean_) / self.x_scale_
        for i in range(self.n_layers_):
            h = h @ getattr(self, f"W{i}_") + getattr(self, f"b{i}_")
            if i < self.n_layers_ - 1:
                h = np.maximum(h, 0.0)
        return h
