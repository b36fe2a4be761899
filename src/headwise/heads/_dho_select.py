"""Cross-validated choice of DHO's CE head and mixture: prior centre, weight decay, α and β.

Pure math for :class:`~headwise.heads.DHOHead`. The KD head never sees a label, so its logits on
held-out labelled rows are honest; only the CE head is refitted per fold. Every candidate CE
head is a ``(centre, λ)`` pair: penalty ``(λ/2)||θ − θ_centre||²`` with the centre the KD head's
weights (a Gaussian prior on the teacher's head: a large ``λ`` returns it) or zero (the plain
weight decay, the labels' own fit). Offering both centres makes the labels-only head a member of
the family the search covers, so with enough labels the search can reach it instead of stopping
at the edge of the ``λ`` grid while still pulled toward the teacher.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import param_error
from ._propagate import clears_noise
from ._soft_linear import (
    best_mixture,
    cv_folds,
    cv_folds_all,
    fit_soft_linear,
    mixture_log_proba,
)

__all__ = ["CEChoice", "param_grid", "ce_candidates", "choose_ce_mixture"]


@dataclass(frozen=True)
class CEChoice:
    """The chosen CE head and mixture."""

    anchored: bool  # the CE head's penalty is centred on the KD head (else on zero)
    weight_decay: float  # its λ
    alpha: float  # weight of the CE head in the mixture
    beta: float  # temperature of the KD head's logits in the mixture
    cv_accuracy: float  # held-out accuracy of this setting (NaN when no row was held out)


def param_grid(
    value: Any, name: str, owner: str, low: float, high: float, low_open: bool
) -> np.ndarray:
    """``value`` as a non-empty float array inside ``(low, high)`` (``[low, high)`` if not
    ``low_open``), or the parameter error that says so.

    >>> param_grid((0.5, 1), "betas", "DHOHead", 0.0, np.inf, True).tolist()
    [0.5, 1.0]
    """
    try:
        a = np.asarray(value, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        a = np.array([np.nan])
    ok = (a > low) if low_open else (a >= low)
    if a.size == 0 or not np.all(np.isfinite(a) & ok & (a < high)):
        rng = f"{'(' if low_open else '['}{low:g}, {'inf' if high == np.inf else f'{high:g}'})"
        raise param_error(owner, name, f"a non-empty sequence of floats in {rng}", value)
    return a


def ce_candidates(
    decays: np.ndarray, prior: str, codes: np.ndarray, has_teacher: bool
) -> list[tuple[bool, float]]:
    """``(anchored, λ)`` candidates for the CE head, the strongest KD-centred one last.

    ``prior="kd"``: KD-centred only; ``"zero"``: zero-centred only; ``"auto"``: both, the
    zero-centred ones only when every labelled class has two rows or more (then every training
    part of the folds still holds each class, so a head that knows only its labels is judged
    fairly). Without a teacher there is no KD head to centre on.

    >>> ce_candidates(np.array([0.1, 1.0]), "auto", np.array([0, 0, 1, 1]), True)
    [(False, 0.1), (False, 1.0), (True, 0.1), (True, 1.0)]
    >>> ce_candidates(np.array([0.1, 1.0]), "auto", np.array([0, 1, 1]), True)
    [(True, 0.1), (True, 1.0)]
    """
    lams = [float(v) for v in np.sort(decays)]
    if not has_teacher or prior == "zero":
        return [(False, v) for v in lams]
    anchored = [(True, v) for v in lams]
    counts = np.bincount(codes)
    if prior == "kd" or codes.size == 0 or counts[counts > 0].min() < 2:
        return anchored
    return [(False, v) for v in lams] + anchored


def choose_ce_mixture(
    Z: np.ndarray,
    codes: np.ndarray,
    kd: tuple[np.ndarray, np.ndarray],
    candidates: list[tuple[bool, float]],
    *,
    alphas: np.ndarray,
    betas: np.ndarray,
    seen: np.ndarray,
    n_folds: int,
    rng: np.random.Generator,
    shrink: bool,
    opts: dict[str, Any],
    extend: int = 0,
) -> CEChoice:
    """Choose the CE head and ``(α, β)`` by stratified cross-validation over the labelled rows.

    ``Z``: scaled labelled rows; ``codes``: their class codes; ``kd = (W_kd, b_kd)``: the KD
    head; ``seen``: classes with a labelled row. Per fold and centre, the ``λ`` path runs from
    the strongest penalty down, each fit warm-started from the last. Held-out rows are scored by
    :func:`best_mixture` (accuracy, ties: log-loss; with ``shrink`` the KD head alone keeps a
    tie), one centre at a time. A KD-centred head knows every class, so each row can be held
    out, even its class's only one; a zero-centred head only knows the classes it was given.
    When no row can be held out, the strongest candidate with ``α = 0.5, β = 1`` is returned.

    The zero-centred family throws the teacher's head away, so it replaces the best KD-centred
    setting only when it is right on more held-out rows by more than one standard error of the
    paired difference (``sqrt`` of the rows on which the two disagree in correctness, McNemar):
    the bar the teacher's propagation also clears, the fallback to the stronger prior when the
    evidence is thin. (Without the bar TREC at 4 labels per class lost 2.2 points to the wider
    search's noise; the same bar on the paired per-row log-loss never switched on Banking77 at
    8, where the KD-centred family is better calibrated but less accurate.)

    A choice at the weakest ``λ`` of the grid is a search stopped at its edge, not an optimum:
    up to ``extend`` times, both centres' paths then go on one decade lower (each fold's path
    continuing from its last fit) and the choice is made again.
    """
    W_kd, b_kd = kd
    K = W_kd.shape[1]
    onehot = np.eye(K)[codes]
    any_anchored = any(a for a, _ in candidates)
    fold = (cv_folds_all if any_anchored else cv_folds)(codes, int(n_folds), rng)
    if fold is None:
        anchored, lam = candidates[-1]
        return CEChoice(anchored, lam, 0.5, 1.0, float("nan"))
    held = np.flatnonzero(fold >= 0)
    where = np.full(codes.size, -1)
    where[held] = np.arange(held.size)
    cands = list(candidates)
    oof: list[np.ndarray] = []
    ends: dict[tuple[int, bool], tuple[np.ndarray, np.ndarray]] = {}  # each path's last fit
    kd_held = Z[held] @ W_kd + b_kd
    for step in range(int(extend) + 1):
        new = list(range(len(oof), len(cands)))
        oof += [np.zeros((held.size, K)) for _ in new]
        for f in range(int(fold.max()) + 1):
            tr, va = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
            for j in sorted(new, key=lambda i: -cands[i][1]):  # strongest penalty first
                centred, lam = cands[j]
                W, b, _ = fit_soft_linear(
                    Z[tr], onehot[tr], temperature=1.0, weight_decay=lam,
                    start=ends.get((f, centred)), anchor=(W_kd, b_kd) if centred else None, **opts,
                )  # fmt: skip
                ends[(f, centred)] = (W, b)
                oof[j][where[va]] = Z[va] @ W + b
        best = _pick(cands, oof, kd_held, codes[held], alphas, betas, seen, shrink)
        lowest = min(lam for _, lam in cands)
        if step == int(extend) or best.weight_decay > lowest or (shrink and best.alpha == 0.0):
            return best
        cands += [(c, lowest / 10.0) for c in sorted({c for c, _ in cands})]
    raise AssertionError("unreachable")  # pragma: no cover


def _pick(
    cands: list[tuple[bool, float]],
    oof: list[np.ndarray],
    kd_held: np.ndarray,
    codes: np.ndarray,
    alphas: np.ndarray,
    betas: np.ndarray,
    seen: np.ndarray,
    shrink: bool,
) -> CEChoice:
    """The best setting of the teacher's family, replaced by the other's only beyond its noise."""
    K = kd_held.shape[1]
    found: list[tuple[CEChoice, np.ndarray]] = []
    for centred in [c for c in (True, False) if any(a == c for a, _ in cands)]:
        # weakest λ first: the KD-alone fallback of best_mixture names the last, strongest one
        js = sorted((j for j, (a, _) in enumerate(cands) if a == centred), key=lambda i: cands[i][1])
        mask = np.ones(K, dtype=bool) if centred else seen
        j, alpha, beta, acc = best_mixture(
            [oof[i] for i in js], kd_held, codes, alphas, betas, mask,
            shrink=shrink and not found,  # the KD head alone keeps a tie in the first family
        )  # fmt: skip
        hit = mixture_log_proba(oof[js[j]], kd_held, alpha, beta, mask).argmax(axis=1) == codes
        found.append((CEChoice(centred, cands[js[j]][1], alpha, beta, acc), hit))
    best, best_hit = found[0]
    for here, hit in found[1:]:  # the other family must beat it by more than its noise
        if clears_noise(hit, best_hit):
            best, best_hit = here, hit
    return best
