"""Fit several heads on the same embeddings and rank them honestly.

Selection uses a validation split carved from the training rows; the test rows are scored once per
head, after selection, and never influence which head is chosen.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ._progress import track
from ._validation import check_embeddings, check_labels, check_seen_labels
from .exceptions import InputError
from .splits import require_holdout

__all__ = ["STANDARD_HEADS", "LeaderboardRow", "Leaderboard", "compare_heads", "stratified_holdout"]

STANDARD_HEADS: tuple[str, ...] = ("ncm", "lda", "ridge", "nb", "knn", "logistic")
BASELINE_NAME = "sklearn-logreg"


@dataclass(frozen=True)
class LeaderboardRow:
    head: str  # registry name, or "sklearn-logreg" for the baseline
    val_accuracy: float | None  # on the holdout carved from train (selection signal)
    test_accuracy: float | None  # refit on all train rows, scored on test once
    test_macro_f1: float | None
    fit_seconds: float  # wall time of the refit on all train rows
    predict_seconds: float | None
    baseline: bool = False  # True for reference rows that are not candidates


@dataclass(frozen=True)
class Leaderboard:
    rows: list[LeaderboardRow]  # sorted by test accuracy when available, else val accuracy
    best: str  # chosen by validation accuracy only
    best_head: Any = field(repr=False)  # the chosen head, refit on all train rows
    n_train: int = 0
    n_val: int = 0
    n_test: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "n_test": self.n_test,
            "rows": [asdict(r) for r in self.rows],
        }


def stratified_holdout(
    y: np.ndarray, fraction: float, random_state: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(fit, val)`` for head selection (see :func:`headwise.splits.require_holdout`)."""
    return require_holdout(y, fraction, random_state, purpose="head selection")


def _baseline() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000)


def compare_heads(
    X_train: Any,
    y_train: Any,
    X_test: Any | None = None,
    y_test: Any | None = None,
    *,
    heads: Sequence[str] = STANDARD_HEADS,
    head_params: dict[str, dict[str, Any]] | None = None,
    X_val: Any | None = None,
    y_val: Any | None = None,
    validation_fraction: float = 0.1,
    random_state: int = 0,
    baseline: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> Leaderboard:
    """Fit every head, choose the best on validation data, score all on test once.

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 4)) + np.repeat(np.eye(4)[:3] * 4, 40, axis=0)
    >>> y = np.repeat([0, 1, 2], 40)
    >>> lb = compare_heads(X, y, heads=("ncm", "lda"), baseline=False)
    >>> lb.best in ("ncm", "lda")
    True
    """
    X_train = check_embeddings(X_train, name="X_train")
    y_train = check_labels(y_train, n_rows=X_train.shape[0])
    if X_test is not None:
        X_test = check_embeddings(X_test, name="X_test")
        if X_test.shape[1] != X_train.shape[1]:
            raise InputError(
                f"X_test has {X_test.shape[1]} features but X_train has {X_train.shape[1]}."
            )
        y_test = np.asarray(y_test)
        check_seen_labels(y_test, y_train)
    params = head_params or {}
    if X_val is None:
        fit_idx, val_idx = stratified_holdout(y_train, validation_fraction, random_state)
        X_fit, y_fit, X_v, y_v = X_train[fit_idx], y_train[fit_idx], X_train[val_idx], y_train[val_idx]
    else:
        X_fit, y_fit = X_train, y_train
        X_v, y_v = check_embeddings(X_val, name="X_val"), np.asarray(y_val)

    def step(msg: str) -> None:
        if on_step is not None:
            on_step(msg)

    from sklearn.metrics import accuracy_score, f1_score

    from .heads import get_head

    val_scores: dict[str, float] = {}
    for name in heads:
        step(f"selecting: {name}")
        head = get_head(name, **params.get(name, {}))
        head.fit(X_fit, y_fit)
        val_scores[name] = float(accuracy_score(y_v, head.predict(X_v)))
    best = max(heads, key=lambda n: (val_scores[n], -list(heads).index(n)))

    rows: list[LeaderboardRow] = []
    best_head: Any = None
    candidates: list[tuple[str, Callable[[], Any], bool]] = [
        (n, lambda n=n: get_head(n, **params.get(n, {})), False) for n in heads
    ]
    if baseline:
        candidates.append((BASELINE_NAME, _baseline, True))
    for name, make, is_baseline in track(candidates, "fitting heads on all train rows"):
        step(f"fitting on all train rows: {name}")
        head = make()
        t0 = time.perf_counter()
        head.fit(X_train, y_train)
        fit_s = time.perf_counter() - t0
        test_acc = test_f1 = pred_s = None
        if X_test is not None:
            t0 = time.perf_counter()
            pred = head.predict(X_test)
            pred_s = time.perf_counter() - t0
            test_acc = float(accuracy_score(y_test, pred))
            test_f1 = float(f1_score(y_test, pred, average="macro"))
        val = None if is_baseline else val_scores[name]
        rows.append(LeaderboardRow(name, val, test_acc, test_f1, fit_s, pred_s, is_baseline))
        if name == best and not is_baseline:
            best_head = head
    key = (lambda r: -(r.test_accuracy or 0.0)) if X_test is not None else (
        lambda r: -(r.val_accuracy or 0.0)
    )
    rows.sort(key=key)
    return Leaderboard(
        rows=rows,
        best=best,
        best_head=best_head,
        n_train=int(X_train.shape[0]),
        n_val=int(X_v.shape[0]),
        n_test=0 if X_test is None else int(X_test.shape[0]),
    )
