"""Long-tailed evaluation: a seeded exponential-profile train split, balanced test, shot groups.

``long_tail_indices`` keeps ``n_c = ⌊n_max · R^(−r/(K−1))⌋`` training rows of the class ranked
``r`` (ranks drawn at random per seed, at least one row each), the profile of CIFAR-LT
(Cao et al., 2019). ``long_tail_eval`` fits each head on that split and scores it on the (untouched)
test rows: overall accuracy, and accuracy on the classes with many (> 100), medium (20–100) and
few (< 20) training rows, as in Liu et al. (2019).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass
from numbers import Real
from typing import Any

import numpy as np

from ..exceptions import InputError
from ._common import check_seeds, check_split, fresh, resolve_heads
from ._results import RunRecord, Summary, data_hash, head_params

__all__ = ["LongTailHeadResult", "LongTailResult", "long_tail_eval", "long_tail_indices", "shot_groups"]

MANY, FEW = 100, 20  # many-shot: more than 100 training rows; few-shot: fewer than 20


def long_tail_indices(y: Any, imbalance: float, *, seed: int = 0, n_max: int | None = None) -> np.ndarray:
    """Sorted row indices of a long-tailed subset of ``y`` with imbalance ratio ``imbalance``.

    ``n_max`` (default: the largest class count) is the head class's size; a class with fewer rows
    than its target keeps all of them.

    >>> y = np.repeat([0, 1, 2], 100)
    >>> np.bincount(y[long_tail_indices(y, 10.0, seed=0)]).tolist() in ([100, 31, 10], [100, 10, 31],
    ...     [31, 100, 10], [31, 10, 100], [10, 100, 31], [10, 31, 100])
    True
    """
    if isinstance(imbalance, bool) or not isinstance(imbalance, Real) or not 1 <= imbalance < np.inf:
        raise InputError(f"The imbalance ratio must be a number >= 1 (e.g. 10 or 100). Got {imbalance!r}.")
    y = np.asarray(y)
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    K = classes.size
    if K < 2:
        raise InputError("A long-tailed split needs at least two classes.")
    rng = np.random.default_rng(seed)
    top = int(counts.max() if n_max is None else n_max)
    rank = rng.permutation(K)  # rank[c]: position of class c in the profile
    target = np.maximum(np.floor(top * float(imbalance) ** (-rank / (K - 1))).astype(int), 1)
    keep = []
    for c in range(K):
        rows = np.flatnonzero(codes == c)
        keep.append(rng.choice(rows, size=min(target[c], rows.size), replace=False))
    return np.sort(np.concatenate(keep))


def shot_groups(train_counts: np.ndarray) -> dict[str, np.ndarray]:
    """Masks of the many (> 100), medium (20–100) and few (< 20) shot classes."""
    return {
        "many": train_counts > MANY,
        "medium": (train_counts >= FEW) & (train_counts <= MANY),
        "few": train_counts < FEW,
    }


@dataclass(frozen=True)
class LongTailHeadResult:
    overall: Summary  # test accuracy over seeds
    many: Summary  # accuracy on test rows of many-shot classes (NaN where the group is empty)
    medium: Summary
    few: Summary
    fit_seconds: float  # mean fit time


@dataclass(frozen=True)
class LongTailResult:
    heads: dict[str, LongTailHeadResult]
    imbalance: float
    n_train: tuple[int, ...]  # rows of the long-tailed train split per seed
    n_classes_per_group: dict[str, int]  # classes in each shot group (first seed)
    n_test: int
    record: RunRecord

    def to_json(self, **extra: Any) -> dict[str, Any]:
        out = {"protocol": "longtail", **extra, **{k: v for k, v in asdict(self).items() if k != "record"}}
        out["record"] = self.record.to_json()
        return out


def _group_accuracy(y_true: np.ndarray, y_pred: np.ndarray, mask_of_class: dict[Any, bool]) -> float:
    rows = np.fromiter((mask_of_class.get(v, False) for v in y_true), dtype=bool, count=y_true.size)
    return float(np.mean(y_true[rows] == y_pred[rows])) if rows.any() else float("nan")


def long_tail_eval(
    heads: Any,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    imbalance: float,
    seeds: Any = 3,
    encoder_key: dict[str, Any] | None = None,
) -> LongTailResult:
    """Fit every head on a long-tailed train split per seed; score overall and per shot group."""
    named = resolve_heads(heads)
    seed_list = check_seeds(seeds)
    X_train, y_train = check_split(X_train, y_train, "train")
    X_test, y_test = check_split(X_test, y_test, "test", X_train.shape[1], seen=y_train)
    scores: dict[str, dict[str, list[float]]] = {
        n: {g: [] for g in ("overall", "many", "medium", "few", "secs")} for n in named
    }
    n_train, groups_first = [], {}
    for s in seed_list:
        idx = long_tail_indices(y_train, imbalance, seed=s)
        n_train.append(int(idx.size))
        classes, counts = np.unique(y_train[idx], return_counts=True)
        groups = shot_groups(counts)
        if not groups_first:
            groups_first = {g: int(m.sum()) for g, m in groups.items()}
        for name, head in named.items():
            est = fresh(head)
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(X_train[idx], y_train[idx])
            scores[name]["secs"].append(time.perf_counter() - t0)
            pred = est.predict(X_test)
            scores[name]["overall"].append(float(np.mean(pred == y_test)))
            for g, m in groups.items():
                scores[name][g].append(_group_accuracy(y_test, pred, dict(zip(classes.tolist(), m, strict=True))))
    res = {
        n: LongTailHeadResult(
            *(Summary.of(v[g]) for g in ("overall", "many", "medium", "few")),
            fit_seconds=float(np.mean(v["secs"])),
        )
        for n, v in scores.items()
    }
    record = RunRecord(
        protocol="longtail", encoder=encoder_key, data_hash=data_hash(X_train, y_train),
        seeds=seed_list, heads={n: head_params(h) for n, h in named.items()},
        settings={"imbalance": float(imbalance), "many": MANY, "few": FEW},
    )  # fmt: skip
    return LongTailResult(res, float(imbalance), tuple(n_train), groups_first, int(y_test.size), record)
