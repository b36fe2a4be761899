"""Loss options for the softmax heads, as pure functions (numpy; the MLP head mirrors them in torch).

- ``"ce"``: plain cross-entropy.
- ``"balanced_softmax"`` (Ren et al., 2020): cross-entropy of ``f_c(x) + log π_c`` during training,
  ``f_c(x)`` at prediction, with ``π`` the training class frequencies. It fits the balanced
  (per-class average) error on long-tailed data. For a linear head with a free, unpenalised
  intercept the training problem is the plain one with the intercept shifted by ``log π``, so the
  fitted model is the cross-entropy model with ``log π`` taken off its intercept; what changes is
  that ``C`` is chosen on the adjusted logits.
- ``"zloss"`` (de Brébisson & Vincent, 2016): ``softplus(a·(b − z_y)) / a`` on the logits
  standardised per row, ``z = (o − mean(o)) / std(o)``; invariant to shifting and scaling the
  logits.

Why ``zloss`` is an option of the MLP head and not of ``LogisticHead``: the logistic head is a
linear model ``o = W x + c`` fitted by L-BFGS on ``mean loss + ‖W‖² / (2C)``, with ``C`` chosen
on held-out rows. The Z-loss of ``(λW, λc)`` equals that of ``(W, c)`` for every ``λ > 0``,
while the penalty falls as ``λ²``; so for any fit with ``W ≠ 0`` the shrunk fit ``(λW, λc)``,
``λ < 1``, has a strictly lower objective, and ``W = 0`` (constant logits, no use of ``x``) is
worse than the infimum whenever ``x`` carries any signal. The penalised objective therefore has
no minimiser: L-BFGS would shrink ``W`` until the row standard deviation of the logits
underflows, and ``C`` — the one thing the logistic head tunes — stops meaning anything. The
linear Z-loss model is ``MLPHead(hidden_layers=0, loss="zloss")`` (CLI: ``--head mlp --param
hidden_layers=0 --param loss=zloss``): the same linear logits, trained with AdamW and early
stopping on a holdout, which regularise without a scale to shrink. ``LogisticHead`` refuses
``loss="zloss"`` with a message that says so (:func:`check_loss`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_param_choice

__all__ = [
    "LOSSES", "balanced_softmax_offsets", "check_loss", "torch_loss", "zloss_default_b", "zloss_terms",
]

LOSSES = ("ce", "balanced_softmax", "zloss")
_EPS = 1e-12


def check_loss(loss: str, owner: str, allowed: tuple[str, ...] = LOSSES) -> str:
    """``loss`` if it is one of ``allowed``, else the standard parameter message.

    The Z-loss refused by a head with an L2 penalty says why (no minimiser) and what to use.
    """
    if loss == "zloss" and loss in LOSSES and loss not in allowed:
        from ..exceptions import InputError

        raise InputError(
            f"The 'loss' parameter of {owner} must be one of {allowed}. Got {loss!r} instead."
            " The Z-loss is unchanged when the weights are scaled, so under an L2 penalty it has"
            " no minimiser; for a linear Z-loss model use MLPHead(hidden_layers=0, loss='zloss')"
            " (--head mlp --param hidden_layers=0 --param loss=zloss), regularised by early stopping."
        )
    return str(check_param_choice(loss, "loss", owner, allowed))


def balanced_softmax_offsets(counts: np.ndarray) -> np.ndarray:
    """``log π_c`` of the training class counts (a class without rows gets ``log(0.5/n)``).

    >>> balanced_softmax_offsets(np.array([3.0, 1.0])).round(4).tolist()
    [-0.2877, -1.3863]
    """
    counts = np.asarray(counts, dtype=np.float64)
    n = counts.sum()
    return np.log(np.maximum(counts, 0.5) / n)


def zloss_default_b(n_classes: int) -> float:
    """``sqrt(K − 1)``: the standardised logit of the true class when it alone is high."""
    return float(np.sqrt(max(n_classes - 1, 1)))


def zloss_terms(
    logits: np.ndarray, codes: np.ndarray, a: float = 1.0, b: float | None = None
) -> tuple[float, np.ndarray]:
    """Summed Z-loss of rows ``logits`` (n, K) with true classes ``codes``, and its gradient.

    ``z = (o − μ) / σ`` per row (``σ`` the population standard deviation), loss
    ``softplus(a·(b − z_y)) / a``. The gradient in ``o`` is
    ``g · [(e_y − 1/K) − z_y · z / K] / σ`` with ``g = −sigmoid(a·(b − z_y))``.

    >>> f, g = zloss_terms(np.array([[2.0, 0.0]]), np.array([0]), a=1.0, b=1.0)
    >>> round(f, 6)  # z = [1, -1]: softplus(0) = log 2
    0.693147
    >>> f2, _ = zloss_terms(np.array([[20.0, 0.0]]) + 5.0, np.array([0]), a=1.0, b=1.0)
    >>> abs(f2 - f) < 1e-12  # shift and scale invariant
    True
    """
    o = np.asarray(logits, dtype=np.float64)
    n, K = o.shape
    b = zloss_default_b(K) if b is None else float(b)
    mu = o.mean(axis=1, keepdims=True)
    sigma = np.sqrt(np.mean((o - mu) ** 2, axis=1, keepdims=True)) + _EPS
    z = (o - mu) / sigma
    rows = np.arange(n)
    zy = z[rows, codes]
    m = a * (b - zy)
    f = float(np.sum(np.logaddexp(0.0, m)) / a)
    g = -1.0 / (1.0 + np.exp(-m))  # d loss / d z_y
    onehot = np.zeros_like(o)
    onehot[rows, codes] = 1.0
    grad = g[:, None] * ((onehot - 1.0 / K) - zy[:, None] * z / K) / sigma
    return f, grad


def torch_loss(name: str, logits: Any, targets: Any, offsets: Any = None, a: float = 1.0,
               b: float | None = None) -> Any:  # fmt: skip
    """Mean loss ``name`` of a torch ``logits`` batch (the MLP head's training loss).

    ``offsets`` (``log π``, a tensor) are added to the logits for ``"balanced_softmax"``.
    """
    import torch
    import torch.nn.functional as F

    if name == "ce":
        return F.cross_entropy(logits, targets)
    if name == "balanced_softmax":
        return F.cross_entropy(logits + offsets, targets)
    K = logits.shape[1]
    bb = zloss_default_b(K) if b is None else float(b)
    mu = logits.mean(dim=1, keepdim=True)
    sigma = torch.sqrt(((logits - mu) ** 2).mean(dim=1, keepdim=True)) + _EPS
    z = (logits - mu) / sigma
    zy = z.gather(1, targets[:, None])[:, 0]
    return (F.softplus(a * (bb - zy)) / a).mean()
