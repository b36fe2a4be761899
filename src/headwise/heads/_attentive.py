"""Attentive probe: learned queries cross-attend over the tokens, then a linear classifier."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import softmax
from sklearn.utils import check_random_state

from .._validation import check_param_float, check_param_int
from ..exceptions import MissingDependencyError
from ._holdout import stratified_holdout
from ._registry import register_head
from ._token_base import TokenHead
from ._tokens import RaggedTokens, padded_batch

__all__ = ["AttentiveProbeHead"]

_PREDICT_ROWS = 512  # examples per padded batch at prediction time
_THREADED_WORK = 4e6  # values per training batch below which torch runs on one CPU thread


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingDependencyError(
            "AttentiveProbeHead trains with torch, which is not installed. "
            "pip install torch==2.13.0 (or pip install 'headwise[hf]')"
        ) from None
    return torch


class _AdamW:
    """AdamW (Loshchilov & Hutter; torch.optim.AdamW's defaults) in a few tensor ops.

    torch.optim's first construction imports torch._dynamo (seconds on a small CPU); this does not.
    """

    def __init__(self, torch: Any, params: list[Any], lr: float, weight_decay: float) -> None:
        self.torch, self.params, self.lr, self.wd = torch, params, lr, weight_decay
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> None:
        self.t += 1
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        with self.torch.no_grad():
            for p, m, v in zip(self.params, self.m, self.v, strict=True):
                g = p.grad
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                p.mul_(1 - self.lr * self.wd)
                p.addcdiv_(m / c1, (v / c2).sqrt_().add_(eps), value=-self.lr)


@register_head("attentive")
class AttentiveProbeHead(TokenHead):
    """Attentive probe: ``n_queries`` learned queries attend over standardised tokens.

    Tokens are standardised with the training tokens' mean and scale (``x̃``). Keys are
    ``k_t = x̃_t W_k + b_k`` (``key_dim`` wide); query ``q_j`` weighs token ``t`` by
    ``softmax_t(q_j · k_t / √key_dim)`` over the example's real tokens (padding is masked out),
    pools ``p_j = Σ_t a_jt x̃_t``, and a linear layer maps ``[p_1, ..., p_J]`` to class scores.
    Trained with AdamW on cross-entropy; a stratified ``validation_fraction`` of the examples is
    held out and the epoch with the lowest validation loss is kept (training stops after
    ``patience`` epochs without improvement). Torch runs inside, on ``device``; inputs and
    fitted weights are numpy arrays, and prediction runs in numpy.

    Parameters
    ----------
    n_queries : int >= 1, default=4
    key_dim : int >= 1, default=64
    weight_decay : float >= 0, default=1e-2
        AdamW decoupled weight decay on every weight.
    learning_rate : float > 0, default=3e-3
    batch_size : int >= 1, default=64
    max_epochs : int >= 1, default=100
    patience : int >= 1, default=8
    validation_fraction : float in (0, 1), default=0.1
        Held out for early stopping; with none possible (every class has one example) the
        model trains for ``max_epochs`` on all examples.
    device : str or None, default=None
        torch device; ``None`` picks CUDA when available, else the CPU.
    random_state : int, RandomState or None, default=0
        Seeds the split, the initial weights and the batch order: refits are identical on the
        same device.

    Attributes
    ----------
    classes_, n_features_in_
    token_mean_, token_scale_ : ndarray of shape (d,)
    queries_ : ndarray of shape (n_queries, key_dim)
    key_weight_ : ndarray of shape (d, key_dim)
    key_bias_ : ndarray of shape (key_dim,)
    coef_ : ndarray of shape (n_classes, n_queries * d)
    intercept_ : ndarray of shape (n_classes,)
    n_epochs_ : int
        Epochs trained; ``best_epoch_`` is the one kept (1-based).
    val_losses_ : ndarray
        Validation log-loss after each epoch (empty without a validation split).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.normal(size=(5, 4)) for _ in range(60)]
    >>> y = np.arange(60) % 2
    >>> for x, label in zip(X, y):
    ...     x[0, 0] = 4.0 if label else -4.0  # the label sits in one token
    >>> AttentiveProbeHead(max_epochs=30).fit(X, y).score(X, y) >= 0.9
    True
    """

    def __init__(
        self,
        n_queries: int = 4,
        key_dim: int = 64,
        weight_decay: float = 1e-2,
        learning_rate: float = 3e-3,
        batch_size: int = 64,
        max_epochs: int = 100,
        patience: int = 8,
        validation_fraction: float = 0.1,
        device: str | None = None,
        random_state: Any = 0,
    ) -> None:
        self.n_queries = n_queries
        self.key_dim = key_dim
        self.weight_decay = weight_decay
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state

    def _check_params(self) -> None:
        owner = type(self).__name__
        for name in ("n_queries", "key_dim", "batch_size", "max_epochs", "patience"):
            check_param_int(getattr(self, name), name, owner)
        check_param_float(self.weight_decay, "weight_decay", owner, 0.0)
        check_param_float(self.learning_rate, "learning_rate", owner, 0.0, low_open=True)
        check_param_float(self.validation_fraction, "validation_fraction", owner, 0.0, 1.0, low_open=True)

    # ---------------------------------------------------------------- training
    def fit(self, X: Any, y: Any) -> AttentiveProbeHead:
        """Fit on token features ``X`` (n examples) and labels ``y`` (n,)."""
        tokens, y = self._validate_tokens_fit(X, y)
        self._check_params()
        torch = _torch()
        threads = torch.get_num_threads()
        # Small CPU steps run ~10x faster on one thread than on several (thread start-up and
        # spinning dominate, worse on a busy machine): one thread below ~4M values per batch.
        work = float(np.mean(tokens.lengths)) * tokens.dim * int(self.batch_size)
        if work < _THREADED_WORK:
            torch.set_num_threads(1)
        try:
            return self._fit(torch, tokens, y)
        finally:
            torch.set_num_threads(threads)

    def _fit(self, torch: Any, tokens: RaggedTokens, y: np.ndarray) -> AttentiveProbeHead:
        self.classes_, codes = np.unique(y, return_inverse=True)
        rng = check_random_state(self.random_state)
        split = stratified_holdout(codes, self.validation_fraction, rng)
        train, val = split if split is not None else (np.arange(len(tokens)), np.array([], int))
        x = tokens.vectors
        self.token_mean_ = x.mean(axis=0, dtype=np.float64)
        scale = x.std(axis=0, dtype=np.float64)
        self.token_scale_ = np.where(scale > 1e-12, scale, 1.0)
        std = RaggedTokens(
            ((x - self.token_mean_) / self.token_scale_).astype(np.float32), tokens.offsets
        )
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        gen = torch.Generator().manual_seed(int(rng.randint(2**31 - 1)))
        params = self._init_params(torch, gen, tokens.dim, len(self.classes_), device)
        opt = _AdamW(torch, list(params.values()), float(self.learning_rate), float(self.weight_decay))
        codes_t = torch.as_tensor(codes, dtype=torch.long, device=device)
        best, best_loss, since, losses = None, np.inf, 0, []
        epoch = 0
        for epoch in range(1, int(self.max_epochs) + 1):
            for rows in np.array_split(rng.permutation(train), max(1, -(-train.size // self.batch_size))):
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(
                    self._forward(torch, params, std, rows, device), codes_t[rows]
                )
                loss.backward()
                opt.step()
            if val.size == 0:
                continue
            with torch.no_grad():
                logits = torch.cat(
                    [
                        self._forward(torch, params, std, rows, device)
                        for rows in np.array_split(val, max(1, -(-val.size // _PREDICT_ROWS)))
                    ]
                )
                v = float(torch.nn.functional.cross_entropy(logits, codes_t[val]))
            losses.append(v)
            if v < best_loss - 1e-6:
                best_loss, since, self.best_epoch_ = v, 0, epoch
                best = {k: p.detach().cpu().numpy().copy() for k, p in params.items()}
            else:
                since += 1
                if since >= self.patience:
                    break
        if best is None:
            best = {k: p.detach().cpu().numpy().copy() for k, p in params.items()}
            self.best_epoch_ = epoch
        self.n_epochs_ = epoch
        self.val_losses_ = np.asarray(losses, dtype=np.float64)
        self.queries_ = best["queries"].astype(np.float64)
        self.key_weight_ = best["key_weight"].astype(np.float64)
        self.key_bias_ = best["key_bias"].astype(np.float64)
        self.coef_ = best["coef"].astype(np.float64)
        self.intercept_ = best["intercept"].astype(np.float64)
        return self

    def _init_params(self, torch: Any, gen: Any, d: int, n_classes: int, device: str) -> dict[str, Any]:
        nq, k = int(self.n_queries), int(self.key_dim)
        shapes = {
            "queries": ((nq, k), 1.0),
            "key_weight": ((d, k), 1.0 / np.sqrt(d)),
            "key_bias": ((k,), 0.0),
            "coef": ((n_classes, nq * d), 1.0 / np.sqrt(nq * d)),
            "intercept": ((n_classes,), 0.0),
        }
        return {
            name: (torch.randn(shape, generator=gen) * scale).to(device).requires_grad_(True)
            for name, (shape, scale) in shapes.items()
        }

    def _forward(
        self, torch: Any, params: dict[str, Any], tokens: RaggedTokens, rows: np.ndarray, device: str
    ) -> Any:
        xb, mask = padded_batch(tokens, rows)
        x = torch.from_numpy(xb).to(device)
        m = torch.from_numpy(mask).to(device)
        keys = x @ params["key_weight"] + params["key_bias"]  # (B, T, k)
        scores = keys @ params["queries"].T / np.sqrt(int(self.key_dim))  # (B, T, J)
        scores = scores.masked_fill(~m[:, :, None], float("-inf"))
        attn = torch.softmax(scores, dim=1)
        pooled = torch.einsum("btj,btd->bjd", attn, x).reshape(len(rows), -1)
        return pooled @ params["coef"].T + params["intercept"]

    # ---------------------------------------------------------------- prediction (numpy)
    def attention(self, X: Any) -> list[np.ndarray]:
        """Attention weights per example, each of shape ``(t_i, n_queries)``."""
        from ._tokens import check_tokens

        tokens = check_tokens(X, type(self).__name__, self.n_features_in_)
        out = []
        for i in range(len(tokens)):
            x = (tokens.vectors[tokens.offsets[i] : tokens.offsets[i + 1]] - self.token_mean_)
            x = x / self.token_scale_
            s = (x @ self.key_weight_ + self.key_bias_) @ self.queries_.T / np.sqrt(self.key_dim)
            out.append(softmax(s, axis=0))
        return out

    def _token_logits(self, tokens: RaggedTokens) -> np.ndarray:
        out = np.empty((len(tokens), len(self.classes_)))
        for start in range(0, len(tokens), _PREDICT_ROWS):
            rows = np.arange(start, min(start + _PREDICT_ROWS, len(tokens)))
            xb, mask = padded_batch(tokens, rows)
            x = (xb - self.token_mean_) / self.token_scale_
            scores = (x @ self.key_weight_ + self.key_bias_) @ self.queries_.T
            scores = np.where(mask[:, :, None], scores / np.sqrt(self.key_dim), -np.inf)
            attn = softmax(scores, axis=1)
            pooled = np.einsum("btj,btd->bjd", attn, x).reshape(len(rows), -1)
            out[rows] = pooled @ self.coef_.T + self.intercept_
        return out
