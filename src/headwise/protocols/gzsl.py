"""Generalized zero-shot evaluation: seen and unseen accuracy, their harmonic mean, and AUSUC.

Test rows of seen and unseen classes are classified over all classes. Seen (unseen) accuracy is
the mean per-class accuracy over the seen (unseen) classes' test rows; H is their harmonic mean;
AUSUC (Chao et al., 2016) is the area under the curve of seen against unseen accuracy traced by
sweeping the calibration ``γ`` (calibrated stacking) or the gate's bias (COSMO).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.special import softmax

from .._validation import shown
from ..exceptions import InputError
from ..heads import SeenUnseenGate, calibrated_stacking, cosmo_combine, get_head
from ..splits import stratified_holdout

__all__ = ["GZSLScores", "GZSLResult", "gzsl_eval", "harmonic_mean", "ausuc"]


@dataclass(frozen=True)
class GZSLScores:
    seen: float  # mean per-class accuracy on seen classes' test rows
    unseen: float  # the same on unseen classes' test rows
    harmonic: float  # 2·seen·unseen / (seen + unseen)
    ausuc: float  # area under the seen–unseen accuracy curve


@dataclass(frozen=True)
class GZSLResult:
    methods: dict[str, GZSLScores]  # "cosmo", "calibrated_stacking", "seen_head_only"
    unseen_classes: tuple[str, ...]
    n_seen_classes: int
    gamma: float  # calibrated-stacking γ chosen on the pseudo-unseen split

    def to_json(self, **extra: Any) -> dict[str, Any]:
        return {"protocol": "gzsl", **extra, **asdict(self)}


def harmonic_mean(s: float, u: float) -> float:
    return 0.0 if s + u == 0 else 2 * s * u / (s + u)


def _per_class_acc(pred: np.ndarray, y: np.ndarray, classes: Sequence[Any]) -> float:
    accs = [np.mean(pred[y == c] == c) for c in classes if np.any(y == c)]
    return float(np.mean(accs)) if accs else float("nan")


def ausuc(points: list[tuple[float, float]]) -> float:
    """Area under seen accuracy as a function of unseen accuracy (points from a sweep).

    >>> round(ausuc([(0.0, 0.8), (0.5, 0.5), (0.9, 0.0)]), 4)
    0.425
    """
    pts = sorted(set(points))
    u = np.array([p[0] for p in pts])
    s = np.array([p[1] for p in pts])
    # the envelope: the best seen accuracy reachable at each unseen accuracy or higher
    s = np.maximum.accumulate(s[::-1])[::-1]
    u = np.r_[0.0, u]
    s = np.r_[s[0], s]
    return float(np.trapezoid(s, u))


def _zero_shot_proba(X: np.ndarray, W: np.ndarray, temperature: float) -> np.ndarray:
    Xn = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    Wn = W / np.maximum(np.linalg.norm(W, axis=1, keepdims=True), 1e-12)
    return softmax(Xn @ Wn.T / temperature, axis=1)


def gzsl_eval(
    X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray, *,
    class_vectors: Mapping[Any, np.ndarray], unseen: Sequence[Any], seen_head: str = "logistic",
    temperature: float = 0.05, k: int = 3, seed: int = 0, n_sweep: int = 41,
) -> GZSLResult:  # fmt: skip
    """Fit on seen classes only, gate on a pseudo-unseen split, score over all classes.

    ``class_vectors`` maps every class to a text embedding of its name (the zero-shot expert's
    weights); ``unseen`` lists the classes whose training rows are never used.
    """
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    unseen_set = set(np.asarray(unseen).tolist())
    seen = np.array(sorted(set(y_train.tolist()) - unseen_set))
    uns = np.array(sorted(unseen_set))
    if seen.size < 3 or uns.size < 1:
        raise InputError("GZSL needs at least three seen classes and one unseen class.")
    missing = [c for c in [*seen, *uns] if c not in class_vectors]
    if missing:
        raise InputError(f"No class vector for {shown(missing[0])!r}; embed every class name.")
    rng = np.random.default_rng(seed)
    tr = np.isin(y_train, seen)
    Xs, ys = X_train[tr], y_train[tr]
    # pseudo split: some seen classes play unseen to train the gate and choose γ
    n_pu = max(1, int(round(seen.size * uns.size / (seen.size + uns.size))))
    pu = rng.choice(seen, size=n_pu, replace=False)
    ps = np.setdiff1d(seen, pu)
    in_ps = np.isin(ys, ps)
    split = stratified_holdout(ys[in_ps], 0.2, seed)
    if split is None:
        raise InputError("Too few rows per seen class to hold out gate-training rows.")
    ps_rows = np.flatnonzero(in_ps)
    fit_rows, held_rows = ps_rows[split[0]], ps_rows[split[1]]
    pu_rows = np.flatnonzero(~in_ps)
    pu_rows = rng.choice(pu_rows, size=min(pu_rows.size, held_rows.size), replace=False)
    head_ps = get_head(seen_head).fit(Xs[fit_rows], ys[fit_rows])
    gate_rows = np.r_[held_rows, pu_rows]
    Wpu = np.stack([class_vectors[c] for c in pu])
    Ps_g = head_ps.predict_proba(Xs[gate_rows])
    Pu_g = _zero_shot_proba(Xs[gate_rows], Wpu, temperature)
    is_seen = np.r_[np.ones(held_rows.size), np.zeros(pu_rows.size)]
    gate = SeenUnseenGate(k=k).fit(Ps_g, Pu_g, is_seen)
    y_g = ys[gate_rows]
    labels_g = np.r_[head_ps.classes_, pu]
    gammas = np.linspace(-5, 15, n_sweep)

    def h_of(pred: np.ndarray, yy: np.ndarray, s_cl: Sequence[Any], u_cl: Sequence[Any]) -> float:
        return harmonic_mean(_per_class_acc(pred, yy, s_cl), _per_class_acc(pred, yy, u_cl))

    hs = [h_of(labels_g[np.argmax(calibrated_stacking(Ps_g, Pu_g, g), axis=1)], y_g, ps, pu) for g in gammas]
    gamma = float(gammas[int(np.argmax(hs))])
    # the real experts: every seen class, the unseen class names
    head = get_head(seen_head).fit(Xs, ys)
    Ps = head.predict_proba(X_test)
    Pu = _zero_shot_proba(X_test, np.stack([class_vectors[c] for c in uns]), temperature)
    labels = np.r_[head.classes_, uns]

    def scores(pred_fn: Any, sweep: np.ndarray, chosen: float) -> GZSLScores:
        pts = []
        for v in sweep:
            pred = labels[np.argmax(pred_fn(v), axis=1)]
            pts.append((_per_class_acc(pred, y_test, uns), _per_class_acc(pred, y_test, seen)))
        pred = labels[np.argmax(pred_fn(chosen), axis=1)]
        s, u = _per_class_acc(pred, y_test, seen), _per_class_acc(pred, y_test, uns)
        return GZSLScores(s, u, harmonic_mean(s, u), ausuc(pts))

    cs = scores(lambda g: calibrated_stacking(Ps, Pu, g), np.linspace(-20, 40, 121), gamma)
    gl = gate.logit(Ps, Pu)
    cosmo = scores(lambda b: cosmo_combine(Ps, Pu, 1 / (1 + np.exp(-(gl + b)))), np.linspace(-30, 30, 121), 0.0)
    only = scores(lambda _: np.hstack([Ps, np.zeros_like(Pu)]), np.zeros(1), 0.0)
    return GZSLResult({"cosmo": cosmo, "calibrated_stacking": cs, "seen_head_only": only},
                      tuple(str(c) for c in uns), int(seen.size), gamma)  # fmt: skip
