"""Fourier head (Gillman et al., 2024): a smooth, non-negative density over ordered bins.

A linear layer maps a row to complex coefficients ``a_0..a_N``; their autocorrelation
``c_k = Σ_j a_j·conj(a_{j+k})`` defines ``p(t) = 1/2 + Re Σ_{k≥1} (c_k / c_0) e^{−iπkt}`` on
``[-1, 1]``, which equals ``|Σ_j a_j e^{iπjt}|² / (2 c_0)`` and so is a non-negative density.
Bin probabilities are ``p`` at the bin centres, normalised; the logits are their logs. Training
adds the frequency-weighted regulariser ``γ Σ_k k² |c_k / c_0|²``, which favours smooth densities.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._validation import check_param_float, check_param_int
from ..exceptions import InputError
from ._base import BaseHead
from ._registry import register_head

__all__ = ["FourierHead", "fourier_bin_probabilities", "bin_targets"]

_FLOOR = 1e-12


def fourier_bin_probabilities(coef: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Bin probabilities from complex coefficients ``coef`` (n, N+1) at ``centres`` in [-1, 1].

    >>> p = fourier_bin_probabilities(np.array([[1.0 + 0j, 0.0]]), np.linspace(-0.9, 0.9, 4))
    >>> p.round(3).tolist()  # a_0 only: the flat density
    [[0.25, 0.25, 0.25, 0.25]]
    """
    N = coef.shape[1] - 1
    k = np.arange(1, N + 1)
    c = np.stack([np.sum(coef[:, : N + 1 - j] * np.conj(coef[:, j:]), axis=1) for j in range(N + 1)], axis=1)
    c0 = np.real(c[:, :1])
    dens = 0.5 + np.real((c[:, 1:] / c0) @ np.exp(-1j * np.pi * np.outer(k, centres)))
    dens = np.maximum(dens, 0.0) + _FLOOR
    return dens / dens.sum(axis=1, keepdims=True)


def bin_targets(y: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(codes, classes, centres)``: ordinal labels (ints or text with few values) keep one bin
    each in sorted order; real values go to ``n_bins`` equal-width bins over their range.
    ``centres`` are the bins' positions in [-1, 1]; ``classes`` what ``predict`` returns."""
    y = np.asarray(y)
    uniq = np.unique(y)
    if y.dtype.kind not in "f" or uniq.size <= n_bins and np.all(uniq == np.round(uniq)):
        classes, codes = np.unique(y, return_inverse=True)
        B = classes.size
    else:
        lo, hi = float(y.min()), float(y.max())
        edges = np.linspace(lo, hi, n_bins + 1)
        codes = np.clip(np.searchsorted(edges, y, side="right") - 1, 0, n_bins - 1)
        classes = (edges[:-1] + edges[1:]) / 2.0
        B = n_bins
    centres = -1.0 + (2.0 * np.arange(B) + 1.0) / B
    return codes, classes, centres


@register_head("fourier")
class FourierHead(BaseHead):
    """A distribution over ordered bins from a Fourier density: smooth where softmax is not.

    ``fit`` takes real-valued targets (binned into ``n_bins`` equal-width bins over the training
    range) or ordinal ones (integers or sorted labels: one bin each). Trained in torch with Adam
    on cross-entropy plus ``gamma`` times the frequency-weighted regulariser (full batch, seeded).
    ``predict_proba`` is the bin distribution, ``predict`` its mode, :meth:`predict_mean` its mean
    and :meth:`predict_interval` central intervals (for real-valued targets).

    Parameters
    ----------
    n_bins : int, default=50
    n_frequencies : int, default=12
    gamma : float >= 0, default=1e-4
    lr : float, default=0.01
    max_epochs : int, default=500
    weight_decay : float, default=0.0
    random_state : int, default=0

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 1)); y = 2 * X[:, 0] + rng.normal(scale=0.3, size=200)
    >>> head = FourierHead(n_bins=20, max_epochs=200).fit(X, y)
    >>> float(head.predict_mean(np.array([[1.0]]))[0]) > 1.0
    True
    """

    def __init__(
        self,
        n_bins: int = 50,
        n_frequencies: int = 12,
        gamma: float = 1e-4,
        lr: float = 0.01,
        max_epochs: int = 500,
        weight_decay: float = 0.0,
        random_state: int = 0,
    ) -> None:
        self.n_bins = n_bins
        self.n_frequencies = n_frequencies
        self.gamma = gamma
        self.lr = lr
        self.max_epochs = max_epochs
        self.weight_decay = weight_decay
        self.random_state = random_state

    def _check(self) -> None:
        for name in ("n_bins", "n_frequencies", "max_epochs"):
            check_param_int(getattr(self, name), name, "FourierHead", low=2 if name == "n_bins" else 1)
        for name in ("gamma", "lr", "weight_decay"):
            check_param_float(getattr(self, name), name, "FourierHead", 0.0)

    def _validate_fit(self, X: Any, y: Any, *, reset: bool = True) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.utils.validation import validate_data

        from .._validation import check_fit_inputs, check_one_label_type
        from ._base import _as_input_error, _friendly_precheck
        from ._mltargets import refuse_label_lists

        refuse_label_lists(y, type(self).__name__)
        check_fit_inputs(X, y, type(self).__name__)
        _friendly_precheck(self, X, reset=reset)
        with _as_input_error():
            X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32])
        y = np.asarray(y)
        if y.dtype.kind == "O":
            check_one_label_type(y.ravel())
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise InputError("y contains NaN or infinity; the Fourier head needs finite targets.")
        return self._scaled(X, reset=reset), y

    def fit(self, X: Any, y: Any) -> Self:
        """Fit on embeddings ``X`` (n, d) and real-valued or ordinal targets ``y`` (n,)."""
        import torch

        self._check()
        X, y = self._validate_fit(X, y)
        self._require_two_classes(y)
        codes, self.classes_, self.bin_centres_ = bin_targets(y, self.n_bins)
        self.real_valued_ = bool(np.asarray(y).dtype.kind == "f" and self.classes_.size == self.n_bins
                                 and not np.array_equal(self.classes_, np.unique(y)))  # fmt: skip
        X64 = np.asarray(X, dtype=np.float64)
        self.x_mean_ = X64.mean(axis=0)
        s = X64.std(axis=0)
        self.x_scale_ = np.where(s > 1e-12, s, 1.0)
        torch.manual_seed(int(self.random_state))
        N = int(self.n_frequencies)
        Z = torch.as_tensor((X64 - self.x_mean_) / self.x_scale_, dtype=torch.float64)
        t = torch.as_tensor(codes, dtype=torch.long)
        lin = torch.nn.Linear(Z.shape[1], 2 * (N + 1)).double()
        k = torch.arange(1, N + 1, dtype=torch.float64)
        phase = torch.exp(-1j * torch.pi * torch.outer(k, torch.as_tensor(self.bin_centres_)))
        opt = torch.optim.Adam(lin.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay))
        for _ in range(int(self.max_epochs)):
            opt.zero_grad()
            out = lin(Z)
            a = torch.complex(out[:, : N + 1], out[:, N + 1 :])
            c = torch.stack([(a[:, : N + 1 - j] * torch.conj(a[:, j:])).sum(dim=1) for j in range(N + 1)], dim=1)
            ratio = c[:, 1:] / c[:, :1].real
            dens = 0.5 + (ratio @ phase).real
            dens = torch.clamp(dens, min=0.0) + _FLOOR
            logp = torch.log(dens) - torch.log(dens.sum(dim=1, keepdim=True))
            loss = torch.nn.functional.nll_loss(logp, t)
            loss = loss + float(self.gamma) * (k**2 * ratio.abs() ** 2).sum(dim=1).mean()
            loss.backward()
            opt.step()
        self.coef_ = lin.weight.detach().numpy().T.copy()  # (d, 2(N+1)): real parts, then imaginary
        self.intercept_ = lin.bias.detach().numpy().copy()
        return self

    def _coefficients(self, X: np.ndarray) -> np.ndarray:
        out = ((np.asarray(X, dtype=np.float64) - self.x_mean_) / self.x_scale_) @ self.coef_ + self.intercept_
        n1 = out.shape[1] // 2
        return out[:, :n1] + 1j * out[:, n1:]

    def _logits(self, X: np.ndarray) -> np.ndarray:
        return np.log(fourier_bin_probabilities(self._coefficients(X), self.bin_centres_))

    def predict_mean(self, X: Any) -> np.ndarray:
        """Mean of the bin distribution (bin centres weighted by their probabilities)."""
        check_is_fitted(self)
        if self.classes_.dtype.kind not in "fiu":
            raise InputError("predict_mean needs numeric targets; these bins are text labels.")
        return self.predict_proba(X) @ self.classes_.astype(np.float64)

    def predict_interval(self, X: Any, coverage: float = 0.9) -> np.ndarray:
        """Central interval ``(n, 2)`` holding ``coverage`` of each row's bin distribution."""
        if not 0 < coverage < 1:
            raise InputError(f"coverage must be in (0, 1). Got {coverage!r}.")
        P = self.predict_proba(X)
        cum = np.cumsum(P, axis=1)
        lo = np.argmax(cum >= (1 - coverage) / 2, axis=1)
        hi = np.argmax(cum >= 1 - (1 - coverage) / 2, axis=1)
        c = self.classes_.astype(np.float64)
        if getattr(self, "real_valued_", False):
            half = (c[1] - c[0]) / 2.0
            return np.stack([c[lo] - half, c[hi] + half], axis=1)
        return np.stack([c[lo], c[hi]], axis=1)
