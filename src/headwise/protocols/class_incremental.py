"""Class-incremental evaluation: classes arrive in tasks; heads update with exact partial_fit."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._progress import track
from ..exceptions import InputError
from ._common import accuracy, check_seeds, check_split, fresh, resolve_heads
from ._results import (
    IncrementalCurve,
    IncrementalResult,
    RunRecord,
    Summary,
    data_hash,
    head_params,
)

__all__ = ["class_incremental_eval", "split_tasks", "forgetting", "INCREMENTAL_HEADS"]

#: Heads whose ``partial_fit`` is exact (sufficient statistics, no stored examples).
INCREMENTAL_HEADS: dict[str, dict[str, Any]] = {
    "ncm": {},
    "lda": {"shrinkage": "oas"},  # Ledoit-Wolf needs the rows; OAS is exact from statistics
    "ridge": {},
    "rpridge": {},
}


def split_tasks(classes: np.ndarray, n_tasks: int, seed: int) -> list[np.ndarray]:
    """Classes in a seeded random order, cut into ``n_tasks`` near-equal consecutive groups.

    >>> [t.tolist() for t in split_tasks(np.arange(4), 2, seed=0)]
    [[2, 0], [1, 3]]
    """
    if n_tasks < 1 or n_tasks > classes.size:
        raise InputError(
            f"--tasks must be between 1 and the number of classes ({classes.size}). "
            f"Got {n_tasks} instead."
        )
    order = np.random.default_rng(seed).permutation(classes.size)
    return [classes[part] for part in np.array_split(order, n_tasks)]


def forgetting(acc: np.ndarray) -> float:
    """Average forgetting from ``acc[t, j]`` (accuracy on task ``j``'s classes after task ``t``).

    For every task but the last: best accuracy before the end minus final accuracy, averaged
    (Chaudhry et al., 2018). 0 with a single task. A task whose classes have no test rows
    (its column is all NaN) has no accuracy to lose and is left out of the mean; NaN only when
    no earlier task has test rows.

    >>> forgetting(np.array([[0.9, np.nan], [0.7, 0.8]]))
    0.2
    >>> forgetting(np.array([[np.nan, np.nan, np.nan], [np.nan, 0.8, np.nan], [np.nan, 0.6, 0.9]]))
    0.2
    """
    T = acc.shape[0]
    if T < 2:
        return 0.0
    drops = [np.nanmax(acc[j:T - 1, j]) - acc[T - 1, j] for j in range(T - 1)
             if not np.isnan(acc[j:T, j]).all()]  # fmt: skip
    return float(np.round(np.mean(drops), 12)) if drops else float("nan")


def _check_incremental(name: str, head: Any) -> None:
    if not hasattr(head, "partial_fit"):
        raise InputError(
            f"Head '{name}' has no partial_fit, so it cannot learn class by class without "
            f"stored examples. Use one of: {', '.join(INCREMENTAL_HEADS)}."
        )


def class_incremental_eval(
    heads: Any,
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    *,
    n_tasks: int = 10,
    seeds: Any = (0,),
    encoder_key: Mapping[str, Any] | None = None,
) -> IncrementalResult:
    """Learn the classes task by task with ``partial_fit``; score on all classes seen so far.

    No training rows are stored between tasks: each head sees task ``t``'s rows once. After
    each task, accuracy is measured on the test rows of every class seen so far. Reported per
    head: the curve (mean over seeds), average incremental accuracy, final accuracy and
    average forgetting (drop from best to final accuracy on each earlier task's classes).

    >>> from headwise.heads import NCMHead
    >>> X = np.repeat(np.eye(4), 5, axis=0) + 0.01 * np.arange(20)[:, None]
    >>> y = np.repeat(np.arange(4), 5)
    >>> r = class_incremental_eval({"ncm": NCMHead()}, X, y, X, y, n_tasks=2)
    >>> r.heads["ncm"].final, r.heads["ncm"].forgetting
    (1.0, 0.0)
    """
    named = resolve_heads(heads)
    for name, head in named.items():
        _check_incremental(name, head)
    seeds_t = check_seeds(seeds)
    Xtr, ytr = check_split(X_train, y_train, "train")
    Xte, yte = check_split(X_test, y_test, "test", Xtr.shape[1], seen=ytr)
    classes = np.unique(ytr)
    curves: dict[str, list[np.ndarray]] = {n: [] for n in named}
    forget: dict[str, list[float]] = {n: [] for n in named}
    first_tasks: list[np.ndarray] = []
    for s, seed in enumerate(track(seeds_t, "incremental: seeds")):
        tasks = split_tasks(classes, int(n_tasks), seed)
        if s == 0:
            first_tasks = tasks
        task_of_test = np.full(yte.shape[0], -1)
        for j, cl in enumerate(tasks):
            task_of_test[np.isin(yte, cl)] = j
        for name, head in named.items():
            h = fresh(head)
            T = len(tasks)
            seen_acc = np.empty(T)
            acc = np.full((T, T), np.nan)
            for t, cl in enumerate(tasks):
                rows = np.isin(ytr, cl)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    h.partial_fit(Xtr[rows], ytr[rows])
                    seen = (task_of_test <= t) & (task_of_test >= 0)
                    pred = h.predict(Xte[seen])
                seen_acc[t] = accuracy(yte[seen], pred)
                tt = task_of_test[seen]
                for j in range(t + 1):
                    acc[t, j] = accuracy(yte[seen][tt == j], pred[tt == j]) if (tt == j).any() else np.nan
            curves[name].append(seen_acc)
            forget[name].append(forgetting(acc))
    out: dict[str, IncrementalCurve] = {}
    for name in named:
        C = np.vstack(curves[name])
        mean_curve = C.mean(axis=0)
        out[name] = IncrementalCurve(
            accuracy_after_task=tuple(float(v) for v in mean_curve),
            average=float(mean_curve.mean()),
            final=float(mean_curve[-1]),
            forgetting=float(np.mean(forget[name])),
            average_summary=Summary.of(C.mean(axis=1)),
        )
    record = RunRecord(
        protocol="incremental", encoder=encoder_key, data_hash=data_hash(Xtr, ytr, Xte, yte),
        seeds=seeds_t, heads={n: head_params(h) for n, h in named.items()},
        settings={"n_tasks": int(n_tasks), "class_order": "default_rng(seed).permutation",
                  "stored_examples": 0},
    )
    return IncrementalResult(
        int(n_tasks), tuple(tuple(t.tolist()) for t in first_tasks), out, record
    )
