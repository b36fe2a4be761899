"""Active learning protocol: rounds of queries chosen by a strategy, the head refitted each round.

Every strategy of one seed starts from the same labelled rows (``start`` per class, drawn as in
the few-shot protocol) or from none (``start=0``: the teacher, e.g. a zero-shot head, is the
round-0 model), so strategies are compared paired. Each round the current model scores the
unlabelled pool, the strategy picks ``budget`` rows, their true labels are revealed and the head
is updated: by ``partial_fit`` where the head has one (exact for the sufficient-statistics
heads: the result equals a fit on all labels), else by a fresh fit (``warm_start`` heads reuse
the previous weights). Test accuracy after every round gives the learning curve; its normalised
area (AULC) summarises a strategy at that budget.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import clone

from ..active import STRATEGIES, select_batch
from ..exceptions import InputError
from ..heads import DHOHead, ZeroShotHead
from ._active_results import ActiveCurve, ActiveResult, area_under_curve
from ._common import accuracy, check_seeds, check_split, resolve_heads
from ._results import RunRecord, Summary, data_hash, head_params
from .few_shot import sample_per_class

__all__ = ["active_eval", "DEFAULT_STRATEGIES"]

DEFAULT_STRATEGIES: tuple[str, ...] = ("random", "entropy", "coreset", "pcoreset")


def _proba_in(model: Any, X: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``model.predict_proba(X)`` with one column per entry of ``classes`` (0 where unknown)."""
    P = np.asarray(model.predict_proba(X), dtype=np.float64)
    out = np.zeros((X.shape[0], classes.size))
    cols = np.searchsorted(classes, np.asarray(model.classes_))
    out[:, cols] = P
    return out


class _Learner:
    """The head of one (strategy, seed) run, updated round by round."""

    def __init__(self, head: Any, X: np.ndarray, y: np.ndarray, classes: np.ndarray,
                 teacher_P: np.ndarray | None, warm: Any = None, teacher: Any = None) -> None:  # fmt: skip
        self.head = copy.deepcopy(warm) if warm is not None else clone(head)
        self.X, self.y, self.classes, self.teacher_P = X, y, classes, teacher_P
        # A zero-shot teacher goes to DHO as a head, so that DHO can move its class vectors
        # toward the pool (``pool_prototypes``); any other teacher as its pool probabilities.
        self.zero_shot = teacher if isinstance(teacher, ZeroShotHead) else None
        self.is_dho = isinstance(self.head, DHOHead)
        if self.is_dho:
            self.head.set_params(warm_start=True)
        self.fitted = False
        self.refits = {"partial_fit": 0, "fit": 0}

    def update(self, lab: np.ndarray, new: np.ndarray) -> None:
        """Learn the rows ``new`` (already appended to ``lab``)."""
        y_lab = self.y[lab]
        if self.is_dho:
            unl = np.setdiff1d(np.arange(self.y.size), lab)
            tp = None if self.teacher_P is None else self.teacher_P[np.r_[lab, unl]]
            given = {"teacher": self.zero_shot} if self.zero_shot is not None else {"teacher_proba": tp}
            self.head.fit(self.X[lab], y_lab, X_unlabeled=self.X[unl], classes=self.classes, **given)
            self.fitted = True
            self.refits["fit"] += 1
            return
        if np.unique(y_lab).size < 2:
            return  # a classifier needs two classes; the round-0 model stays in charge
        if self.fitted and hasattr(self.head, "partial_fit"):
            try:
                self.head.partial_fit(self.X[new], self.y[new])
                self.refits["partial_fit"] += 1
                return
            except InputError:  # e.g. LDA with ledoit-wolf shrinkage: refit instead
                pass
        self.head.fit(self.X[lab], y_lab)
        self.fitted = True
        self.refits["fit"] += 1


def _query(strategy: Any, budget: int, **kw: Any) -> np.ndarray:
    if callable(strategy):
        return np.asarray(strategy(budget, **kw), dtype=np.int64)
    return select_batch(strategy, budget, **kw)


def _strategy_map(strategies: Any) -> dict[str, Any]:
    """``{name: strategy name or callable}`` from names or a mapping, checked."""
    items = dict(strategies) if isinstance(strategies, Mapping) else {s: s for s in strategies}
    if not items:
        raise InputError("No strategies given; pass at least one, e.g. 'random,entropy'.")
    for s in items.values():
        if not callable(s) and (not isinstance(s, str) or s.removeprefix("pcb:") not in STRATEGIES):
            raise InputError(
                f"Unknown strategy '{s}'. Available: {', '.join(STRATEGIES)} "
                "(prefix any with 'pcb:' for class balance), or pass a callable."
            )
    return {str(k): v for k, v in items.items()}


def _dho_template(
    head: Any, X: np.ndarray, y: np.ndarray, classes: np.ndarray, teacher_P: np.ndarray | None
) -> Any:
    """A DHO head fitted once, whose weights warm-start every run (None for other heads).

    DHO's KD head never sees a label: with the same pool and teacher its problem is the same in
    every run and round, so starting each run from one solution only saves solver iterations;
    the optimum (convex problems) and hence the result are unchanged.
    """
    if not isinstance(head, DHOHead) or teacher_P is None:
        return None
    init = sample_per_class(y, 1, 0)
    rest = np.setdiff1d(np.arange(y.size), init)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clone(head).set_params(warm_start=True).fit(
            X[init], y[init], X_unlabeled=X[rest], teacher_proba=teacher_P[np.r_[init, rest]],
            classes=classes,
        )  # fmt: skip


def _one_run(
    strategy: Any, tag: int, seed: int, head: Any, teacher: Any, Xtr: np.ndarray, ytr: np.ndarray,
    Xte: np.ndarray, yte: np.ndarray, classes: np.ndarray, teacher_P: np.ndarray | None,
    start: int, rounds: int, budget: int, warm: Any = None,
) -> tuple[list[int], list[float], dict[str, int]]:  # fmt: skip
    learner = _Learner(head, Xtr, ytr, classes, teacher_P, warm, teacher)
    codes = np.searchsorted(classes, ytr)
    lab = sample_per_class(ytr, start, seed) if start > 0 else np.empty(0, dtype=np.int64)
    if lab.size:
        learner.update(lab, lab)
    sizes, accs = [], []
    for r in range(rounds + 1):
        model = learner.head if learner.fitted else teacher
        if model is None:
            raise InputError("start=0 (a zero-shot start) needs a teacher to make round-0 predictions.")
        sizes.append(int(lab.size))
        accs.append(accuracy(yte, model.predict(Xte)))
        if r == rounds:
            break
        P = _proba_in(model, Xtr, classes)
        rng = np.random.default_rng([seed, r, tag])
        new = _query(strategy, budget, X=Xtr, proba=P, labeled=lab, labeled_codes=codes[lab],
                     seed=rng)  # fmt: skip
        lab = np.concatenate([lab, new])
        learner.update(lab, new)
    return sizes, accs, learner.refits


def active_eval(
    head: Any,
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    *,
    strategies: Sequence[str] | Mapping[str, Any] = DEFAULT_STRATEGIES,
    start: int = 1,
    rounds: int = 5,
    budget: int | None = None,
    seeds: Any = 5,
    teacher: Any = None,
    encoder_key: Mapping[str, Any] | None = None,
) -> ActiveResult:
    """Learning curves of ``head`` under each active-selection strategy.

    Parameters
    ----------
    head : str or estimator
        A registry name or an unfitted head; refitted every round. A :class:`DHOHead` gets the
        ``teacher``'s probabilities and the unlabelled rest of the pool.
    X_train, y_train : the pool (labels are revealed only for the rows queried)
    X_test, y_test : scored after every round
    strategies : names from :data:`headwise.active.STRATEGIES` (``"pcb:"`` prefix allowed), or
        ``{label: name or callable}``; a callable is called as ``fn(budget, X=, proba=, labeled=,
        labeled_codes=, seed=)`` like :func:`headwise.active.select_batch` and returns indices.
    start : int >= 0
        Labelled rows per class before round 1; 0 starts from the teacher alone.
    rounds, budget : rounds of ``budget`` queries (default budget: the number of classes)
    seeds : int or sequence of int
    teacher : fitted classifier, optional
        Round-0 model for ``start=0`` and DHO's teacher (e.g. a fitted :class:`ZeroShotHead`).

    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(-2, 1, (30, 2)), rng.normal(2, 1, (30, 2))]
    >>> y = np.repeat([0, 1], 30)
    >>> r = active_eval("ncm", X, y, X, y, strategies=["random"], rounds=2, budget=2, seeds=2)
    >>> r.strategies["random"].n_labels
    (2, 4, 6)
    """
    (name, est), = resolve_heads([head] if not isinstance(head, str) else head).items()
    Xtr, ytr = check_split(X_train, y_train, "train")
    Xte, yte = check_split(X_test, y_test, "test", Xtr.shape[1], seen=ytr)
    seeds_t = check_seeds(seeds)
    named = _strategy_map(strategies)
    for what, v, lo in (("start", start, 0), ("rounds", rounds, 1)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < lo:
            raise InputError(f"{what} must be an int >= {lo}. Got {v!r} instead.")
    classes = np.unique(ytr)
    if teacher is not None:
        classes = np.unique(np.r_[classes, np.asarray(teacher.classes_, dtype=classes.dtype)])
    B = int(budget) if budget is not None else int(classes.size)
    if B < 1:
        raise InputError(f"budget must be an int >= 1. Got {budget!r} instead.")
    need = start * np.unique(ytr).size + rounds * B
    if need > ytr.size:
        raise InputError(
            f"start, rounds and budget ask for {need} labels but the pool has {ytr.size} rows; "
            "lower --rounds or --budget."
        )
    if start == 0 and teacher is None:
        raise InputError("start=0 (a zero-shot start) needs a teacher, e.g. a zero-shot head.")
    teacher_P = _proba_in(teacher, Xtr, classes) if teacher is not None else None
    warm = _dho_template(est, Xtr, ytr, classes, teacher_P)
    curves: dict[str, ActiveCurve] = {}
    for tag, (label, strategy) in enumerate(named.items()):
        per_seed, aulcs, refits = [], [], {"partial_fit": 0, "fit": 0}
        sizes: list[int] = []
        for seed in seeds_t:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sizes, accs, rf = _one_run(strategy, tag, seed, est, teacher, Xtr, ytr, Xte, yte,
                                           classes, teacher_P, start, rounds, B, warm)  # fmt: skip
            per_seed.append(accs)
            aulcs.append(area_under_curve(sizes, accs))
            refits = {k: refits[k] + rf[k] for k in refits}
        by_point = np.asarray(per_seed).T
        curves[label] = ActiveCurve(tuple(sizes), tuple(Summary.of(a) for a in by_point),
                                       Summary.of(aulcs), refits)  # fmt: skip
    record = RunRecord(
        protocol="active", encoder=encoder_key, data_hash=data_hash(Xtr, ytr, Xte, yte),
        seeds=seeds_t, heads={name: head_params(est)},
        settings={"strategies": {k: v if isinstance(v, str) else repr(v) for k, v in named.items()},
                  "start": int(start), "rounds": int(rounds),
                  "budget": B, "teacher": None if teacher is None else type(teacher).__name__},
    )  # fmt: skip
    return ActiveResult(curves, name, int(start), B, int(rounds), record)
