"""Choosing the logistic probe's C: a warm-started path on one or more splits, widened until
the best C is interior.

The search walks a grid from the value nearest a prior ``C`` (without one: its middle) towards
lower validation log-loss. The score of a ``C`` is the mean validation log-loss over every
held-out row of every split after one fitted temperature (rows re-read in chunks: without it);
lower is better, and within ``1e-4`` nats of the best counts as a tie, won by the ``C`` nearest
the prior (without one: the stronger penalty), so a plateau such as separable data stops the
search. :meth:`CSearch.choose` then applies the one-standard-error rule toward the prior. Each
fit stops when the gradient of the mean loss is below ``tol``; the penalty's share of it changes
by ``||V||·|1/C - 1/C'|/n`` between neighbouring ``C``, so once a weaker penalty no longer moves
the warm-started solution at that precision, both score the same and the tie rule decides:
weakening the penalty further is not supported by the data at the solver's precision. (Forcing
every fit to move instead lets near-separable sets walk to ``C ~ 1e7``, with lower held-out
log-loss on a few hundred rows and lower test accuracy.) The log-loss is a proper scoring rule:
every row contributes a continuous amount, so it separates settings that a few dozen rows score
equally on accuracy, and it does not saturate on easy sets. The walk only stops at a ``C`` whose
both neighbours were tried and scored worse, so it goes past either end of the grid by the
grid's own step, warm-started from the neighbouring solution, until the best is interior (or
``C`` leaves ``[1e-8, 1e8]``, or it went ``30`` steps past an end).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import log_softmax, ndtr, stdtrit
from sklearn.utils import check_random_state

from ._ensemble import fit_temperature, temperature_row_losses
from ._softmax import ChunkedSoftmaxProblem, SoftmaxProblem

__all__ = [
    "CSearch", "PathSplit", "evidence_threshold", "log_mean_over_repeats", "paired_evidence",
    "per_row_mean", "stratified_folds",
]

_C_RANGE = (1e-8, 1e8)
_MAX_EXTEND = 30
_TIE = 1e-4  # mean log-losses this close are ties (a plateau, e.g. separable data)
_MIN_EVIDENCE_ROWS = 30  # fewer held-out rows than this never leave a default


def stratified_folds(codes: np.ndarray, n_folds: int, random_state: Any = None) -> np.ndarray:
    """Fold number of every row (``-1``: never held out), stratified by class.

    Rows of a class are shuffled and dealt round-robin, starting at a random fold per class, so
    folds have about equal sizes and class mixes. A class with a single row is never held out (a
    head cannot predict a class it never saw); a class with ``m < n_folds`` rows appears in ``m``
    folds and keeps ``m - 1`` training rows in each.

    >>> stratified_folds(np.array([0, 0, 0, 1, 1, 1, 2]), 3, random_state=0).tolist()[-1]
    -1
    """
    rng = check_random_state(random_state)
    fold = np.full(codes.size, -1, dtype=np.int64)
    for c in np.unique(codes):
        members = np.flatnonzero(codes == c)
        if members.size < 2:
            continue
        members = rng.permutation(members)
        fold[members] = (np.arange(members.size) + rng.randint(n_folds)) % n_folds
    return fold


def per_row_mean(values: np.ndarray, row_of: np.ndarray, n_rows: int) -> np.ndarray:
    """Mean of ``values`` per row: ``values[j]`` belongs to row ``row_of[j]`` of ``n_rows``.

    >>> per_row_mean(np.array([1.0, 3.0, 5.0]), np.array([0, 0, 1]), 2).tolist()
    [2.0, 5.0]
    """
    counts = np.bincount(row_of, minlength=n_rows)
    return np.bincount(row_of, weights=values, minlength=n_rows) / np.maximum(counts, 1)


def log_mean_over_repeats(
    parts: Iterable[tuple[np.ndarray, np.ndarray]], n_rows: int, n_classes: int
) -> np.ndarray:
    """``log`` of each row's mean held-out probabilities over the splits that held it out.

    ``parts``: per split, the positions of its held-out rows (distinct within a split, in
    ``range(n_rows)``) and their probabilities (m, K). Rows never held out get ``log 1e-300``.
    Accumulated split by split, so the memory is one ``(n_rows, K)`` total.

    >>> p = [(np.array([0, 1]), np.array([[0.2, 0.8], [0.6, 0.4]])), (np.array([0]), np.array([[0.4, 0.6]]))]
    >>> np.exp(log_mean_over_repeats(p, 2, 2)).round(2).tolist()
    [[0.3, 0.7], [0.6, 0.4]]
    """
    total = np.zeros((n_rows, n_classes))
    seen = np.zeros(n_rows)
    for at, proba in parts:
        total[at] += proba
        seen[at] += 1
    return np.log(np.maximum(total / np.maximum(seen, 1)[:, None], 1e-300))


def evidence_threshold(z: float, n_rows: int) -> float:
    """The threshold, in standard errors of a paired mean over ``n_rows`` rows, at the
    one-sided level that ``z`` standard errors have under the normal law: Student's t with
    ``n_rows - 1`` degrees of freedom, because the standard error is itself estimated from
    those rows (``z = 2``: 2.05 on 48 rows, 2.00 on thousands). Below ``30`` rows it is
    infinite (no evidence leaves a default): per-row log-loss differences are skewed, a few
    rows carry the mean, and neither the mean nor its standard error is near its normal law
    on so few (the textbook rule of thumb for a t reading); ``z <= 0`` (no gate) stays.

    >>> round(evidence_threshold(2.0, 48), 2), round(evidence_threshold(2.0, 10**6), 2)
    (2.05, 2.0)
    >>> evidence_threshold(2.0, 16), evidence_threshold(0.0, 16)
    (inf, 0.0)
    """
    if z <= 0:
        return z
    if n_rows < _MIN_EVIDENCE_ROWS:
        return float("inf")
    return float(stdtrit(n_rows - 1, ndtr(z)))


def paired_evidence(reference: np.ndarray, challenger: np.ndarray) -> float:
    """Mean per-row log-loss gain of ``challenger`` over ``reference`` in standard errors.

    Both are per-row held-out log-losses of the same rows. Positive: the challenger is better.
    ``0`` when there are fewer than two rows or the differences have no spread.

    >>> paired_evidence(np.array([1.0, 1.2, 0.8]), np.array([0.5, 0.6, 0.4])) > 2
    True
    """
    gain = np.asarray(reference, dtype=np.float64) - np.asarray(challenger, dtype=np.float64)
    if gain.size < 2:
        return 0.0
    se = float(np.std(gain, ddof=1) / np.sqrt(gain.size))
    return float(gain.mean() / se) if se > 0 else 0.0


@dataclass
class PathSplit:
    """One split: the training part's problem, the held-out rows' problem and their solutions."""

    part: SoftmaxProblem
    val: SoftmaxProblem
    val_rows: np.ndarray
    start: np.ndarray  # the first solve's starting point
    thetas: dict[float, np.ndarray] = field(default_factory=dict)
    n_iter: dict[float, int] = field(default_factory=dict)

    def solve(self, C: float, max_iter: int, tol: float) -> None:
        if not self.thetas:
            theta0 = self.start
        else:  # warm start from the nearest C on a log scale
            near = min(self.thetas, key=lambda c: abs(np.log(c / C)))
            theta0 = self.thetas[near]
        self.thetas[C], self.n_iter[C] = self.part.solve(theta0, C, max_iter, tol)

    def val_log_proba(self, C: float) -> np.ndarray:
        return log_softmax(self.val.logits(self.thetas[C]).astype(np.float64), axis=1)


class CSearch:
    """Runs the C path on every split and keeps widening the grid until the best C is interior.

    ``prior`` (a C, or None) is where the walk starts and what :meth:`choose` shrinks towards.
    """

    def __init__(
        self, splits: Sequence[PathSplit], max_iter: int, tol: float, prior: float | None = None
    ) -> None:
        self.splits = list(splits)
        self.max_iter, self.tol, self.prior = max_iter, tol, prior
        self.scores: dict[float, tuple[float, float]] = {}  # C -> (accuracy, log-loss)
        # C -> held-out log-loss (after temperature) of every distinct row, averaged over the
        # repeats that held it out: repeated k-fold scores a row several times, and those
        # scores are not independent, so standard errors are taken over distinct rows
        self.row_losses: dict[float, np.ndarray] = {}
        self.temperatures: dict[float, float] = {}
        held = np.concatenate([sp.val_rows for sp in self.splits]) if self.splits else np.zeros(0)
        self._rows, self._row_of = np.unique(held, return_inverse=True)

    def _evaluate(self, C: float) -> None:
        if any(isinstance(sp.val, ChunkedSoftmaxProblem) for sp in self.splits):
            self._evaluate_chunked(C)
            return
        logits, codes = [], []
        for sp in self.splits:
            sp.solve(C, self.max_iter, self.tol)
            logits.append(sp.val.logits(sp.thetas[C]))
            codes.append(sp.val.codes)
        # held in the rows' dtype; the temperature and the losses widen blocks of rows to
        # float64, so a large holdout (100k rows x 1000 classes) costs no float64 copies of it
        z, y = np.concatenate(logits), np.concatenate(codes)
        T = fit_temperature(z, y)
        losses = temperature_row_losses(z, y, T)
        self.temperatures[C] = T
        self.row_losses[C] = per_row_mean(losses, self._row_of, self._rows.size)
        self.scores[C] = (float(np.mean(z.argmax(axis=1) == y)), float(losses.mean()))

    def _evaluate_chunked(self, C: float) -> None:
        """Rows re-read in chunks never hold their logits: plain log-loss, no per-row losses
        (so :meth:`choose` falls back to the best)."""
        hits, loss, n = 0.0, 0.0, 0
        for sp in self.splits:
            sp.solve(C, self.max_iter, self.tol)
            acc, ll = sp.val.scores(sp.thetas[C])
            m = sp.val_rows.size
            hits, loss, n = hits + acc * m, loss + ll * m, n + m
        self.scores[C] = (hits / n, loss / n)

    def _distance(self, C: float) -> float:
        return abs(float(np.log(C / self.prior))) if self.prior is not None else float(np.log(C))

    def best(self) -> float:
        """The lowest log-loss; within ``_TIE`` of it, the C nearest the prior (no prior: the
        strongest penalty)."""
        low = min(ll for _, ll in self.scores.values())
        return min((c for c, (_, ll) in self.scores.items() if ll <= low + _TIE),
                   key=lambda c: (self._distance(c), c))

    def choose(self, n_se: float = 1.0, gate: float | None = None) -> float:
        """The one-standard-error rule toward the prior: of the C whose mean log-loss exceeds
        the best's by at most ``n_se`` standard errors of the per-row differences (or by
        ``_TIE``), the nearest to ``prior``; the best itself without a prior. With ``gate``,
        the C nearest the prior (where the walk started) is kept outright unless the best beats
        it by more than ``gate`` standard errors: the best is the minimum of several noisy
        scores, so its lead over the prior is biased upwards, and leaving the prior is a
        decision that needs evidence (``gate`` at the normal law's level, as Student's t over
        the distinct rows: :func:`evidence_threshold`). The standard error is over distinct
        rows (a row held out by several repeats counts once, with its mean loss): its repeated
        scores are not independent draws."""
        b = self.best()
        if self.prior is None or b not in self.row_losses:
            return b

        def close(c: float, k: float) -> bool:
            diff = self.row_losses[c] - self.row_losses[b]
            se = float(np.std(diff, ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else 0.0
            return float(diff.mean()) <= max(k * se, _TIE)

        home = min(self.row_losses, key=lambda c: (self._distance(c), c))
        if gate is not None and close(home, evidence_threshold(gate, self.row_losses[b].size)):
            return home
        return min((c for c in self.scores if close(c, n_se)), key=lambda c: (self._distance(c), c))

    def run(self, Cs: np.ndarray) -> float:
        """Walk the grid ``Cs`` (sorted, extended by its step past either end) from the value
        nearest the prior (without one: its middle) towards lower log-loss until the best C has
        both neighbours evaluated; return the best.

        The validation log-loss is close to unimodal in ``log C``, so this finds the grid's
        best at a cost of (distance to it + 2) fits per split instead of the whole grid. One
        neighbour is probed at a time, the weaker penalty first: once the walk has moved, the
        neighbour behind it is already known, so a walk in one direction costs one fit per step.
        """
        step = float(np.exp(np.median(np.diff(np.log(Cs))))) if Cs.size > 1 else 10.0**0.5
        lo, n = float(Cs[0]), Cs.size

        def value(i: int) -> float:
            if 0 <= i < n:
                return float(Cs[i])
            return lo * step**i if i < 0 else float(Cs[-1]) * step ** (i - n + 1)

        index: dict[float, int] = {}

        def evaluate(i: int) -> None:
            C = value(i)
            if C not in index and _C_RANGE[0] <= C <= _C_RANGE[1]:
                index[C] = i
                self._evaluate(C)

        start = (n - 1) // 2
        if self.prior is not None:
            start = int(np.argmin(np.abs(np.log(Cs / self.prior))))
        evaluate(start)
        for _ in range(2 * n + 2 * _MAX_EXTEND):
            b = index[self.best()]
            todo = [i for i in (b + 1, b - 1) if value(i) not in index
                    and _C_RANGE[0] <= value(i) <= _C_RANGE[1] and (0 <= i < n or
                    abs(i if i < 0 else i - n + 1) <= _MAX_EXTEND)]
            if not todo:
                break
            evaluate(todo[0])  # one neighbour at a time: a walk uphill never probes behind it
        return self.best()

    def oof_log_proba(self, C: float, n_rows: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
        """Held-out rows and their log-probabilities at ``C`` (averaged over repeats).

        Memory is ``O(held-out rows × n_classes)``, not ``O(n_rows × n_classes)``."""
        parts = ((np.searchsorted(self._rows, sp.val_rows), np.exp(sp.val_log_proba(C)))
                 for sp in self.splits)
        return self._rows, log_mean_over_repeats(parts, self._rows.size, n_classes)
