"""Honest out-of-sample predictions of candidate heads, with their hyper-parameters chosen on them.

For every candidate, :func:`evaluate_candidate` returns temperature-scaled out-of-sample
log-probabilities on the evaluation rows and the setting that minimises their log-loss:

* ``ncm``, ``lda`` (shrinkage), ``ridge`` (α) and ``knn`` (k): exact leave-one-out
  (:mod:`._loo`), so every row is both trained on and scored, at the cost of a few matrix
  products per setting; or, when ``splits`` are given (the logistic head's repeated k-fold on
  few rows), held-out logits on those splits (:mod:`._heldout`, one factorisation per split),
  so that every head is compared, and its setting chosen, at the same training size;
* ``logistic``: its own C search (repeated stratified k-fold on few rows, a holdout on many),
  whose out-of-fold probabilities at the chosen ``C`` come with the fit;
* a head whose fit reads no row (``_row_free``: the zero-shot head, whose weights come from
  the class names): fitted once, its logits on the evaluation rows are exactly held out;
* any other head: stratified k-fold refits (refits on ``splits`` when given).

On splits, the logits of each setting get one temperature over all splits, the probabilities
of a row held out by several repeats are averaged, and the setting's log-loss is taken after a
second temperature on those averages; the member then predicts with the product of the two
(exact for one repeat).

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
from ._cpath import log_mean_over_repeats, stratified_folds
from ._ensemble import fit_temperature, mean_log_loss
from ._heldout import knn_heldout_logits, lda_heldout_path, pooled_oas, ridge_heldout_path
from ._loo import loo_knn_logits, loo_lda_path, loo_ncm_logits, loo_ridge_path
from ._registry import get_head, get_head_class

__all__ = ["Evaluated", "evaluate_candidate", "SHRINKAGE_GRID", "KNN_GRID"]

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
    temperature: float  # applies to the head's raw logits
    log_proba: np.ndarray  # (len(rows), K), temperature-scaled
    log_loss: float
    accuracy: float
    fitted: BaseHead | None = None  # already fitted on every row (logistic), else None
    grid: dict[str, float] = field(default_factory=dict)  # setting -> log-loss


# a setting -> scores of the evaluation rows (n_rows, K) and the temperature already applied
# to the head's logits to make them (1 for raw logits)
Source = Callable[[Any], tuple[np.ndarray, float]]
Splits = Sequence[tuple[np.ndarray, np.ndarray]]


def _raw(at: Callable[[Any], np.ndarray]) -> Source:
    return lambda v: (at(v), 1.0)


def _scaled(logits: np.ndarray, codes: np.ndarray, start: float = 1.0,
            ) -> tuple[float, np.ndarray, float]:
    T = fit_temperature(logits, codes, start)
    lp = log_softmax(np.where(np.isneginf(logits), -np.inf, T * logits), axis=1)
    return T, lp, mean_log_loss(lp, codes)


def _score(name: str, key: str, v: Any, source: Source, codes: np.ndarray,
           base: Mapping[str, Any], start: float = 1.0) -> tuple[Evaluated, float]:
    """The evidence of one setting ``v`` (its log-loss after one fitted temperature ``T``,
    started at ``start``) and ``T``."""
    scores, inner = source(v)
    T, lp, ll = _scaled(scores, codes, start)
    acc = float(np.mean(lp.argmax(axis=1) == codes))
    return Evaluated(name, {**base, key: v}, T * inner, lp, ll, acc), T


def _pick(
    name: str, key: str, values: Sequence[Any], source: Source, codes: np.ndarray,
    base: Mapping[str, Any],
) -> Evaluated:
    """The setting with the lowest log-loss after temperature (ties: the earlier value)."""
    best: Evaluated | None = None
    grid = {}
    T = 1.0  # neighbouring settings have similar temperatures: each starts from the last
    for v in values:
        e, T = _score(name, key, v, source, codes, base, T)
        grid[f"{key}={v:.4g}"] = e.log_loss
        if best is None or e.log_loss < best.log_loss:
            best = e
    assert best is not None
    best.grid = grid
    return best


def _walk(score: Callable[[int], float], start: int, lo: int, hi: int,
          best: Callable[[dict[int, float]], int]) -> dict[int, float]:
    """Scores of grid positions, from ``start`` towards lower scores until the best position
    (``best`` of those scored) has both neighbours in ``[lo, hi]`` scored: for a score close to
    unimodal along the grid (a held-out loss against a penalty's strength), the grid's best at
    a cost of its distance from ``start`` plus two, rather than the whole grid."""
    seen = {start: score(start)}
    while True:
        b = best(seen)
        todo = [i for i in (b + 1, b - 1) if lo <= i <= hi and i not in seen]
        if not todo:
            return seen
        seen[todo[0]] = score(todo[0])


def _single(name: str, logits: np.ndarray, codes: np.ndarray, params: Mapping[str, Any],
            ) -> Evaluated:
    out = _pick(name, "_", [0], _raw(lambda _: logits), codes, params)
    out.params.pop("_", None)
    return out


class _OnSplits:
    """The held-out rows of every split among the evaluation rows ``rows`` (sorted), and the
    evidence of logits given per split (see the module docstring)."""

    def __init__(self, rows: np.ndarray, splits: Splits, codes: np.ndarray, n_classes: int):
        self.parts = []
        for tr, va in splits:
            va = va[np.isin(va, rows)]
            if va.size:
                self.parts.append((tr, va, np.searchsorted(rows, va)))
        self.at = np.concatenate([pos for *_, pos in self.parts])
        self.y = codes[rows][self.at]
        self.n_rows, self.K = rows.size, n_classes

    def source(self, path_of: Callable[[np.ndarray, np.ndarray], Callable[[Any], np.ndarray]],
               ) -> Source:
        """Evidence from ``path_of(train, held)``: a function of the setting giving the held-out
        logits of a head fitted on ``train``."""
        paths = [path_of(tr, va) for tr, va, _ in self.parts]
        return lambda v: self.averaged(np.concatenate([p(v) for p in paths]))

    def averaged(self, z: np.ndarray) -> tuple[np.ndarray, float]:
        T = fit_temperature(z, self.y)
        proba = np.exp(log_softmax(np.where(np.isneginf(z), -np.inf, T * z), axis=1))
        ends = np.cumsum([pos.size for *_, pos in self.parts])[:-1]
        parts = zip([pos for *_, pos in self.parts], np.split(proba, ends), strict=True)
        return log_mean_over_repeats(parts, self.n_rows, self.K), T


def _refit_logits(name: str, params: Mapping[str, Any], X: np.ndarray, codes: np.ndarray,
                  n_classes: int, train: np.ndarray, held: np.ndarray) -> np.ndarray:
    head = get_head(name, **params).fit(X[train], codes[train])
    z = np.full((held.size, n_classes), -np.inf)
    z[:, head.classes_.astype(np.int64)] = head.logits(X[held])
    return z


def _ridge(X: np.ndarray, codes: np.ndarray, K: int, rows: np.ndarray, params: Mapping[str, Any],
           on: _OnSplits | None) -> Evaluated:
    alphas = sorted(float(a) for a in np.atleast_1d(params.get("alphas", _ALPHAS)))
    base = {k: v for k, v in params.items() if k != "alphas"}
    if on is None:
        source = _raw(loo_ridge_path(X, codes, K, rows))
    else:
        source = on.source(lambda tr, va: ridge_heldout_path(X, codes, K, tr, va))
    n = len(alphas)
    step = float(np.exp(np.median(np.diff(np.log(alphas))))) if n > 1 else 10.0

    def alpha(i: int) -> float:  # positions past either end extend the grid by its step
        return alphas[0] * step**i if i < 0 else alphas[-1] * step ** (i - n + 1) if i >= n \
            else alphas[i]

    scored: dict[int, Evaluated] = {}

    def score(i: int) -> float:
        scored[i] = _score("ridge", "alpha", alpha(i), source, codes[rows], base)[0]
        return scored[i].log_loss

    def best(seen: dict[int, float]) -> int:  # the strongest penalty within _TIE of the lowest
        low = min(seen.values())
        return max(i for i, ll in seen.items() if ll <= low + _TIE)

    def room(ratio: float) -> int:  # grid steps past an end, at most _MAX_EXTEND
        return max(0, min(_MAX_EXTEND, int(np.floor(np.log(ratio) / np.log(step))))) if n > 1 \
            else 0

    lo, hi = -room(alphas[0] / 1e-12), n - 1 + room(1e12 / alphas[-1])
    seen = _walk(score, (n - 1) // 2, lo, hi, best)
    out = scored[best(seen)]
    out.params = {**base, "alphas": (out.params["alpha"],)}
    out.grid = {f"alpha={alpha(i):.4g}": seen[i] for i in sorted(seen)}
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
        logits[[where[int(r)] for r in va]] = _refit_logits(name, params, X, codes, K, tr, va)
    return _single(name, logits, codes[rows], params)


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
    splits: Splits | None = None,
) -> Evaluated:
    """Out-of-sample evidence for one candidate on ``rows`` (sorted indices into ``X``).

    ``fitted`` is a head already fitted on every row that carries its own out-of-fold
    log-probabilities (``oof_rows_``, ``oof_log_proba_``: the logistic head), covering ``rows``.
    ``splits``: (training rows, held-out rows) pairs that hold out every row of ``rows`` at
    least once; the evidence then comes from them (the logistic head's own splits), else from
    leave-one-out (closed-form heads) or stratified k-fold refits (any other head).
    """
    params = dict(params)
    y = codes[rows]
    K = n_classes
    on = None if splits is None else _OnSplits(rows, splits, codes, K)
    if fitted is not None:
        where = np.searchsorted(fitted.oof_rows_, rows)
        out = _single(name, fitted.oof_log_proba_[where], y, params)
        out.fitted = fitted
    elif getattr(get_head_class(name), "_row_free", False):
        head = get_head(name, **params).fit(X, codes)
        z = np.full((rows.size, K), -np.inf)
        z[:, head.classes_.astype(np.int64)] = head.logits(X[rows])
        out = _single(name, z, y, params)
        out.fitted = head
    elif name in _LOO_KEYS and set(params) <= _LOO_KEYS[name] and _closed_form_ok(name, params):
        out = _CLOSED_FORM[name](X, codes, K, rows, params, on)
    elif on is not None:
        source = on.source(lambda tr, va: lambda _: _refit_logits(name, params, X, codes, K,
                                                                  tr, va))
        out = _pick(name, "_", [0], source, y, params)
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
         on: _OnSplits | None) -> Evaluated:
    metric = params.get("metric", "cosine")
    if on is None:
        return _single("ncm", loo_ncm_logits(X, codes, K, metric, rows), codes[rows], params)
    source = on.source(lambda tr, va: lambda _: _refit_logits("ncm", params, X, codes, K, tr, va))
    return _pick("ncm", "_", [0], source, codes[rows], params)


def _lda(X: np.ndarray, codes: np.ndarray, K: int, rows: np.ndarray, params: Mapping[str, Any],
         on: _OnSplits | None) -> Evaluated:
    s = params.get("shrinkage", "auto")
    if on is None:
        oas, at = loo_lda_path(X, codes, K, rows)
        source = _raw(at)
    else:
        oas = pooled_oas(X, codes, K) if isinstance(s, str) else 0.0
        source = on.source(lambda tr, va: lda_heldout_path(X, codes, K, tr, va))
    grid = sorted({*SHRINKAGE_GRID, *([oas] if oas > 0 else [])}) if isinstance(s, str) else [s]
    scored: dict[int, Evaluated] = {}

    def score(i: int) -> float:
        scored[i] = _score("lda", "shrinkage", grid[i], source, codes[rows], {})[0]
        return scored[i].log_loss

    def best(seen: dict[int, float]) -> int:  # ties: the weaker shrinkage
        return min(seen, key=lambda i: (seen[i], i))

    start = grid.index(oas) if oas in grid else (len(grid) - 1) // 2  # the head's own default
    seen = _walk(score, start, 0, len(grid) - 1, best)
    out = scored[best(seen)]
    out.grid = {f"shrinkage={grid[i]:.4g}": seen[i] for i in sorted(seen)}
    return out


def _knn(X: np.ndarray, codes: np.ndarray, K: int, rows: np.ndarray, params: Mapping[str, Any],
         on: _OnSplits | None) -> Evaluated:
    ks = [int(params["n_neighbors"])] if "n_neighbors" in params else list(KNN_GRID)
    ks = sorted({min(k, X.shape[0] - 1) for k in ks})
    weights = params.get("weights", "distance")
    if on is None:
        logits = dict(zip(ks, loo_knn_logits(X, codes, K, ks, weights, rows), strict=True))
        source = _raw(logits.__getitem__)
    else:
        def path_of(tr: np.ndarray, va: np.ndarray) -> Callable[[Any], np.ndarray]:
            per_k = knn_heldout_logits(X, codes, K, ks, weights, tr, va)
            return dict(zip(ks, per_k, strict=True)).__getitem__

        source = on.source(path_of)
    return _pick("knn", "n_neighbors", ks, source, codes[rows], {"weights": weights})


_CLOSED_FORM: dict[str, Callable[..., Evaluated]] = {
    "ncm": _ncm, "lda": _lda, "ridge": _ridge, "knn": _knn,
}
