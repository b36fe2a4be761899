"""Pure math for linear heads trained on soft targets: the solver and the mixing-weight search.

Used by :class:`~headwise.heads.DHOHead`. Torch computes the loss and its gradient on whatever
device is asked for (float64); SciPy's L-BFGS-B drives the iterations, so a fit is deterministic
and the first call does not pay for importing ``torch.optim``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, logsumexp, softmax
from threadpoolctl import threadpool_limits

from ..exceptions import MissingDependencyError

_THREADED_WORK = 4e6  # n·d·K below which torch runs on one CPU thread (threads cost more)

__all__ = [
    "torch_module",
    "resolve_device",
    "tempered_targets",
    "fit_soft_linear",
    "cv_folds",
    "cv_folds_all",
    "best_mixture",
    "mixture_log_proba",
    "ce_log_proba",
]


def torch_module() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingDependencyError(
            "DHOHead trains with torch, which is not installed. "
            "pip install torch==2.13.0 (or pip install 'headwise[hf]')"
        ) from None
    return torch


def resolve_device(torch: Any, device: str | None) -> Any:
    """``None`` picks CUDA when available, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def tempered_targets(proba: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log p / T)``: the teacher's distribution at temperature ``T``.

    Equal to ``softmax(z / T)`` for any logits ``z`` with ``softmax(z) = p``, so a teacher can be
    given by its probabilities alone.

    >>> tempered_targets(np.array([[0.8, 0.2]]), 1.0).round(3).tolist()
    [[0.8, 0.2]]
    """
    logp = np.log(np.clip(np.asarray(proba, dtype=np.float64), 1e-30, None))
    return softmax(logp / float(temperature), axis=1)


def fit_soft_linear(
    X: np.ndarray,
    Q: np.ndarray,
    *,
    temperature: float,
    weight_decay: float,
    max_iter: int,
    tol: float,
    device: Any,
    start: tuple[np.ndarray, np.ndarray] | None = None,
    anchor: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Minimise ``mean_i T² H(q_i, softmax(z_i / T)) + (λ/2) ||W||²`` with ``z = X W + b``.

    ``H`` is the cross-entropy; against a fixed target it differs from ``KL(q || p)`` by the
    target's entropy, a constant, so this is the distillation loss ``T² KL`` (and plain
    cross-entropy for one-hot ``Q`` at ``T = 1``). The problem is strictly convex in ``W``
    (for ``λ > 0``); the bias is unpenalised. ``start = (W, b)`` warm-starts L-BFGS (default:
    zero weights and the targets' log-prior as bias). ``anchor = (W0, b0)`` replaces the penalty
    by ``(λ/2)(||W − W0||² + ||b − b0||²)``: a Gaussian prior centred on another head (a large
    ``λ`` returns that head, a small one the data's own fit), and starts the solver there.
    Returns ``(W (d, K), b (K,), iterations)``.
    """
    torch = torch_module()
    n, d = X.shape
    K = Q.shape[1]
    T = float(temperature)
    Xt = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float64), device=device)
    Qt = torch.as_tensor(np.ascontiguousarray(Q, dtype=np.float64), device=device)
    lam = float(weight_decay)
    W0 = torch.zeros((d, K), dtype=torch.float64, device=device)
    b0, lam_b = torch.zeros(K, dtype=torch.float64, device=device), 0.0
    if anchor is not None:
        W0 = torch.as_tensor(np.asarray(anchor[0], dtype=np.float64).reshape(d, K), device=device)
        b0, lam_b = torch.as_tensor(np.asarray(anchor[1], dtype=np.float64), device=device), lam

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        th = torch.as_tensor(theta, device=device)
        W, b = th[: d * K].reshape(d, K), th[d * K :]
        z = (Xt @ W + b) / T
        logp = torch.log_softmax(z, dim=1)
        dW, db = W - W0, b - b0
        penalty = 0.5 * (lam * float((dW * dW).sum()) + lam_b * float((db * db).sum()))
        loss = -(T * T) * float((Qt * logp).sum()) / n + penalty
        G = (T / n) * (torch.exp(logp) - Qt)  # d loss / d (XW + b)
        gW = Xt.T @ G + lam * dW
        grad = torch.cat([gW.reshape(-1), G.sum(dim=0) + lam_b * db])
        return loss, grad.cpu().numpy()

    prior = np.log(np.clip(Q.mean(axis=0), 1e-12, None))
    theta0 = np.concatenate([np.zeros(d * K), T * (prior - prior.mean())])
    if anchor is not None:
        theta0 = np.concatenate([np.ravel(anchor[0]), np.ravel(anchor[1])]).astype(np.float64)
    if start is not None and start[0].shape == (d, K) and start[1].shape == (K,):
        theta0 = np.concatenate([np.ravel(start[0]), start[1]]).astype(np.float64)
    threads = torch.get_num_threads()
    if device.type == "cpu" and n * d * K < _THREADED_WORK:
        torch.set_num_threads(1)
    try:  # L-BFGS-B's own vector work is small; BLAS threads only contend for the cores
        with threadpool_limits(1, user_api="blas"):
            res = minimize(
                f, theta0, jac=True, method="L-BFGS-B",
                options={"maxiter": int(max_iter), "gtol": float(tol), "ftol": 1e-12},
            )  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    theta = res.x
    return theta[: d * K].reshape(d, K).copy(), theta[d * K :].copy(), int(res.nit)


def cv_folds(codes: np.ndarray, n_folds: int, rng: np.random.Generator) -> np.ndarray | None:
    """Fold of every labelled row (-1: always trained on), stratified by class.

    A class with one row is never held out; a class with ``c >= 2`` rows spreads them over
    ``min(n_folds, c)`` folds, so every training part keeps at least one row of it. Returns
    ``None`` when no row can be held out.

    >>> cv_folds(np.array([0, 0, 1, 2, 2, 2]), 5, np.random.default_rng(0)).tolist()
    [0, 1, -1, 1, 2, 0]
    """
    fold = np.full(codes.size, -1, dtype=np.int64)
    counts = np.bincount(codes)
    k = int(min(n_folds, counts.max(initial=0)))
    if k < 2:
        return None
    for c in np.flatnonzero(counts >= 2):
        rows = rng.permutation(np.flatnonzero(codes == c))
        fold[rows] = np.arange(rows.size) % min(k, rows.size)
    return fold


def cv_folds_all(codes: np.ndarray, n_folds: int, rng: np.random.Generator) -> np.ndarray | None:
    """Fold of every labelled row, all held out once, classes spread evenly over the folds.

    For a head that knows every class without its rows (one anchored on a teacher's head), so
    a class with a single row can be held out too. ``None`` with fewer than two rows.

    >>> sorted(cv_folds_all(np.array([0, 1, 2]), 5, np.random.default_rng(0)).tolist())
    [0, 1, 2]
    """
    if codes.size < 2:
        return None
    order = np.concatenate([rng.permutation(np.flatnonzero(codes == c)) for c in np.unique(codes)])
    fold = np.empty(codes.size, dtype=np.int64)
    fold[order] = np.arange(codes.size) % min(int(n_folds), codes.size)
    return fold


def ce_log_proba(
    ce_logits: np.ndarray, kd_log_proba: np.ndarray, seen: np.ndarray | None
) -> np.ndarray:
    """The CE head's log-probabilities, deferring to the KD head on classes without labels.

    The CE head knows nothing of a class with no labelled row, so it only decides *among* the
    ``seen`` classes: ``p_ce'(c) = p_kd(seen) · softmax(z_ce[seen])(c)`` for seen ``c`` and
    ``p_kd(c)`` otherwise. With every class seen this is ``softmax(z_ce)``.
    """
    if seen is None or bool(np.all(seen)):
        return log_softmax(ce_logits, axis=1)
    out = np.array(kd_log_proba, dtype=np.float64, copy=True)
    mass = logsumexp(kd_log_proba[:, seen], axis=1, keepdims=True)
    out[:, seen] = mass + log_softmax(ce_logits[:, seen], axis=1)
    return out


def mixture_log_proba(
    ce_logits: np.ndarray,
    kd_logits: np.ndarray,
    alpha: float,
    beta: float,
    seen: np.ndarray | None = None,
) -> np.ndarray:
    """``log(α p_ce + (1 − α) softmax(z_kd / β))``, computed stably (``p_ce``: :func:`ce_log_proba`)."""
    a = float(alpha)
    kd = log_softmax(kd_logits / float(beta), axis=1)
    if a <= 0:
        return kd
    ce = ce_log_proba(ce_logits, kd, seen)
    if a >= 1:
        return ce
    return np.logaddexp(np.log(a) + ce, np.log1p(-a) + kd)


def best_mixture(
    ce_logits: Sequence[np.ndarray],
    kd_logits: np.ndarray,
    codes: np.ndarray,
    alphas: np.ndarray,
    betas: Sequence[float],
    seen: np.ndarray | Sequence[np.ndarray] | None = None,
    shrink: bool = False,
) -> tuple[int, float, float, float]:
    """The ``(candidate, α, β)`` with the best held-out accuracy (ties: lower log-loss).

    ``ce_logits[j]`` are the out-of-fold CE-head logits of candidate ``j`` (one per weight
    decay); ``kd_logits`` the KD head's logits on the same rows. Returns the candidate index,
    ``α``, ``β`` and the accuracy reached. ``seen`` marks the classes the CE head knows (one
    mask for all candidates, or a list with one mask per candidate).

    With ``shrink``, the KD head alone (``α = 0``, ``β = 1``: the teacher's own head) is kept
    unless the best setting is right on more held-out rows: a tie goes to the teacher, whose
    head was not chosen by this search. (A stricter bar, one standard error of the paired
    difference, was tried and rejected: labelled rows drawn evenly per class understate what
    the labels buy on a skewed pool, so it kept the teacher where the labels were far better.)
    """
    rows = np.arange(codes.size)
    best: tuple[float, float] | None = None
    pick = (0, 1.0, 1.0, 0.0)
    best_hit = np.zeros(codes.size, dtype=bool)
    kd_log = {b: log_softmax(kd_logits / float(b), axis=1) for b in betas}
    masks = list(seen) if isinstance(seen, (list, tuple)) else [seen] * len(ce_logits)
    for j, z in enumerate(ce_logits):
        for b in betas:
            ce, kd = np.exp(ce_log_proba(z, kd_log[b], masks[j])), np.exp(kd_log[b])
            for a in alphas:
                P = float(a) * ce + (1.0 - float(a)) * kd
                hit = P.argmax(axis=1) == codes
                acc = float(np.mean(hit))
                loss = float(-np.mean(np.log(np.clip(P[rows, codes], 1e-300, None))))
                if best is None or (-acc, loss) < best:
                    best, pick, best_hit = (-acc, loss), (j, float(a), float(b), acc), hit
    if shrink:
        safe = kd_logits.argmax(axis=1) == codes
        if int(best_hit.sum()) <= int(safe.sum()):
            return len(ce_logits) - 1, 0.0, 1.0, float(np.mean(safe))
    return pick
