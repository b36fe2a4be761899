"""Honest out-of-sample predictions of candidate heads, with their hyper-parameters chosen on them.

For every candidate, :func:`evaluate_candidate` returns temperature-scaled out-of-sample
log-probabilities on the evaluation rows and the setting that minimises their log-loss:

* ``ncm``, ``lda`` (shrinkage), ``ridge`` (α) and ``knn`` (k): exact leave-one-out
  (:mod:`._loo`), so every row is both trained on and scored, at the cost of a few matrix
  products per setting;
* ``logistic``: its own C search (repeated stratified k-fold on few rows, a holdout on many),
  whose out-of-fold probabilities at the chosen ``C`` come with the fit;
* any other head: stratified k-fold refits.

The log-loss after one temperature per setting is the criterion: it is a proper scoring rule,
it uses the confidence of every prediction rather than 0/1 hits on a few dozen rows, and the
temperature makes heads whose scores are not probabilities (NCM cosines, ridge values)
comparable. Grids that can run off an end (ridge's α) are widened until the best is interior.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import log_softmax

from ._base import BaseHead
from ._cpath import stratified_folds
from ._ensemble import fit_temperature, mean_log_loss
from ._loo import loo_knn_logits, loo_lda_path, loo_ncm_logits, loo_ridge_path
from ._registry import get_head

__all__ = ["Evaluated", "evaluate_candidate", "on_splits", "SHRINKAGE_GRID", "KNN_GRID"]

SHRINKAGE_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 0.2, 0.35, 0.5, 0.7, 0.85, 0.95, 1.0)
KNN_GRID = (1, 3, 5, 10, 20, 40)
_ALPHAS = tuple(10.0 ** (k / 2) for k in range(-6, 7))
_MAX_EXTEND = 20
_TIE = 1e-4  # log-losses this close are ties, won by the stronger penalty (as logistic's C)
_N_FOLDS = 5


@dataclass
class Evaluated:
    """One candidate: chosen constructor parameters and its out-of-sample evidence."""

    name: str
    params: dict[str, Any]
    temperature: float
    log_proba: np.ndarray  # (len(rows), K), temperature-scaled
    log_loss: float
    accuracy: float
    fitted: BaseHead | None = None  # already fitted on every row (logistic), else None
    grid: dict[str, float] = field(default_factory=dict)  # setting -> log-loss


def _scaled(logits: np.ndarray, codes: np.ndarray, start: float = 1.0,
            ) -> tuple[float, np.ndarray, float]:
    T = fit_temperature(logits, codes, start)
    lp = log_softmax(np.where(np.isneginf(logits), -np.inf, T * logits), axis=1)
    return T, lp, mean_log_loss(lp, codes)


def _pick(
    name: str, key: str, values: Sequence[Any], logits: Sequence[np.ndarray], codes: np.ndarray,
    base: Mapping[str, Any],
) -> Evaluated:
    """The setting with the lowest log-loss after temperature (ties: the earlier value)."""
    best: Evaluated | None = None
    grid = {}
    T = 1.0
    for v, z in zip(values, logits, strict=True):
        T, lp, ll = _scaled(z, codes, T)  # neighbouring settings have similar temperatures
        grid[f"{key}={v:.4g}"] = ll
        if best is None or ll < best.log_loss:
            acc = float(np.mean(lp.argmax(axis=1) == codes))
            best = Evaluated(name, {**base, key: v}, T, lp, ll, acc)
    assert best is not None
    best.grid = grid
    return best


def _ridge(X: np.ndarray, codes: np.ndarray, K: int, rows: np.ndarray, params: Mapping[str, Any],
           ) -> Evaluated:
    alphas = sorted(float(a) for a in np.atleast_1d(params.get("alphas", _ALPHAS)))
    base = {k: v for k, v in params.items() if k != "alphas"}
    scored: dict[float, Evaluated] = {}
    at = loo_ridge_path(X, codes, K, rows)

    def run(values: list[float]) -> None:
        for a in values:
            scored[a] = _pick("ridge", "alpha", [a], [at(a)], codes[rows], base)

    def best_alpha() -> float:  # the strongest penalty within _TIE of the lowest log-loss
        low = min(e.log_loss for e in scored.values())
        return max(a for a, e in scored.items() if e.log_loss <= low + _TIE)

    run(alphas)
    step = float(np.exp(np.median(np.diff(np.log(alphas))))) if len(alphas) > 1 else 10.0
    for _ in range(_MAX_EXTEND if len(alphas) > 1 else 0):
        grid = sorted(scored)
        best = best_alpha()
        if best == grid[0] and grid[0] / step > 1e-12:
            run([grid[0] / step])
        elif best == grid[-1] and grid[-1] * step < 1e12:
            run([grid[-1] * step])
        else:
            break
    best = best_alpha()
    out = scored[best]
    out.params = {**base, "alphas": (best,)}
    out.grid = {f"alpha={a:.4g}": scored[a].log_loss for a in sorted(scored)}
    return out


def _kfold(
    name: str, params: Mapping[str, Any], X: np.ndarray, codes: np.ndarray, K: int,
    rows: np.ndarray, random_state: Any,
) -> Evaluated:
    """Stratified k-fold refits of any head, scored on the evaluation rows."""
    fold = stratified_folds(codes, _N_FOLDS, random_state)
    logits = np.full((rows.size, K), -np.inf)
    where = {int(r): j for j, r in enumerate(rows)}
    for f in range(_N_FOLDS):
        va = np.flatnonzero(fold == f)
        va = va[np.isin(va, rows)]
        if va.size == 0:
            continue
        tr = np.flatnonzero(fold != f)
        head = get_head(name, **params).fit(X[tr], codes[tr])
        cols = head.classes_.astype(np.int64)
        logits[np.ix_([where[int(r)] for r in va], cols)] = head.logits(X[va])
    return _pick(name, "_", [0], [logits], codes[rows], params)


_LOO_KEYS: dict[str, set[str]] = {
    "ncm": {"metric"}, "lda": {"shrinkage"}, "ridge": {"alphas"},
    "knn": {"n_neighbors", "weights"},
}


def evaluate_candidate(
    name: str,
    params: Mapping[str, Any],
    X: np.ndarray,
    codes: np.ndarray,
    n_classes: int,
    rows: np.ndarray,
    random_state: Any = 0,
    fitted: BaseHead | None = None,
) -> Evaluated:
    """Out-of-sample evidence for one candidate on ``rows`` (indices into ``X``).

    ``fitted`` is a head already fitted on every row that carries its own out-of-fold
    log-probabilities (``oof_rows_``, ``oof_log_proba_``: the logistic head), covering ``rows``.
    """
    params = dict(params)
    y = codes[rows]
    K = n_classes
    if fitted is not None:
        where = np.searchsorted(fitted.oof_rows_, rows)
        out = _pick(name, "_", [0], [fitted.oof_log_proba_[where]], y, params)
        out.fitted = fitted
    elif name in _LOO_KEYS and set(params) <= _LOO_KEYS[name] and _closed_form_ok(name, params):
        out = _LOO_ROUTES[name](X, codes, K, rows, params)
    else:
        out = _kfold(name, params, X, codes, K, rows, random_state)
    out.params.pop("_", None)
    out.name = name
    return out


def _closed_form_ok(name: str, params: Mapping[str, Any]) -> bool:
    if name == "lda":
        s = params.get("shrinkage", "auto")
        return s in ("auto", "oas") or isinstance(s, float | int) and 0 < s <= 1
    return True


def _ncm(X: np.ndarray, codes: np.ndarray, K: int, rows: np.ndarray, params: Mapping[str, Any],
         ) -> Evaluated:
    z = loo_ncm_logits(X, codes, K, params.get("metric", "cosine"), rows)
    out = _pick("ncm", "_", [0], [z], codes[rows], params)
    return out


def _lda(X: np.ndarray, codes: np.ndarray, K: int, rows: np.ndarray, params: Mapping[str, Any],
         ) -> Evaluated:
    s = params.get("shrinkage", "auto")
    oas, at = loo_lda_path(X, codes, K, rows)
    grid = sorted({*SHRINKAGE_GRID, *([oas] if oas > 0 else [])}) if isinstance(s, str) else [s]
    return _pick("lda", "shrinkage", grid, [at(a) for a in grid], codes[rows], {})


def _knn(X: np.ndarray, codes: np.ndarray, K: int, rows: np.ndarray, params: Mapping[str, Any],
         ) -> Evaluated:
    ks = [int(params["n_neighbors"])] if "n_neighbors" in params else list(KNN_GRID)
    ks = sorted({min(k, X.shape[0] - 1) for k in ks})
    weights = params.get("weights", "distance")
    logits = loo_knn_logits(X, codes, K, ks, weights, rows)
    return _pick("knn", "n_neighbors", ks, logits, codes[rows], {"weights": weights})


_LOO_ROUTES: dict[str, Callable[..., Evaluated]] = {
    "ncm": _ncm, "lda": _lda, "ridge": _ridge, "knn": _knn,
}


def on_splits(
    e: Evaluated, X: np.ndarray, codes: np.ndarray, n_classes: int, rows: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
) -> Evaluated:
    """``e``'s head at its chosen setting, refitted on the training rows of every split and
    scored on the held-out ones among ``rows`` (sorted): the same splits, the same training
    sizes and the same averaging over repeats (of probabilities after one temperature) as the
    logistic head's own out-of-fold evidence, so heads are compared like with like. The
    returned temperature applies to the head's raw logits."""
    parts = []
    for tr, va in splits:
        va = va[np.isin(va, rows)]
        if va.size == 0:
            continue
        head = get_head(e.name, **e.params).fit(X[tr], codes[tr])
        z = np.full((va.size, n_classes), -np.inf)
        z[:, head.classes_.astype(np.int64)] = head.logits(X[va])
        parts.append((np.searchsorted(rows, va), z))
    at = np.concatenate([a for a, _ in parts])
    z = np.concatenate([zz for _, zz in parts])
    T = fit_temperature(z, codes[rows][at])
    proba = np.exp(log_softmax(np.where(np.isneginf(z), -np.inf, T * z), axis=1))
    total = np.zeros((rows.size, n_classes))
    np.add.at(total, at, proba)
    seen = np.bincount(at, minlength=rows.size)
    log_proba = np.log(np.maximum(total / np.maximum(seen, 1)[:, None], 1e-300))
    out = _pick(e.name, "_", [0], [log_proba], codes[rows], e.params)
    out.params.pop("_", None)
    out.name, out.grid = e.name, e.grid
    # the head predicts with its raw logits: softmax(T2 · log softmax(T z)) is softmax(T2 T z)
    # (exact for one repeat, the temperature of the average over several), so its temperature
    # is the product; T2 alone (near 1) left NCM's cosines flat and LDA's logits 15x too sharp
    out.temperature *= T
    return out
