"""Linear evaluation: settings chosen on validation rows only, refit, test scored once."""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.model_selection import ParameterGrid

from .._progress import track
from ..exceptions import InputError
from ..splits import stratified_holdout
from ._common import (
    LeakageError,
    accuracy,
    check_seeds,
    check_split,
    fresh,
    overlap_mask,
    resolve_heads,
    row_keys,
)
from ._results import LinearHeadResult, LinearResult, RunRecord, Summary, data_hash, head_params

__all__ = ["linear_eval", "DEFAULT_GRIDS", "find_leakage"]

#: Settings tried on validation per registry head; heads not listed run with their own settings.
#: ``logistic`` is not listed on purpose: with ``C=None`` it runs its own C search (k-fold or a
#: holdout inside the rows it is fitted on, widened until the best C is interior), so its grid
#: lives in one place, the head; its chosen ``C_`` is reported.
DEFAULT_GRIDS: dict[str, dict[str, list[Any]]] = {
    "ncm": {"metric": ["cosine", "euclidean"]},
    "lda": {"shrinkage": ["oas", 0.01, 0.1, 0.3]},
    "ridge": {"alphas": [(0.1,), (1.0,), (10.0,), (100.0,)]},
    "rpridge": {"alphas": [(1.0,), (10.0,), (100.0,)]},
    "knn": {"n_neighbors": [5, 10, 20]},
}


def find_leakage(
    train_keys: np.ndarray, test_keys: np.ndarray, val_keys: np.ndarray | None = None
) -> np.ndarray:
    """Mask of test rows whose key (text or embedding digest) also occurs in train or validation."""
    refs = [train_keys] if val_keys is None else [train_keys, val_keys]
    return overlap_mask(refs, test_keys)


def _select(head: Any, grid: Mapping[str, list[Any]], Xtr: np.ndarray, ytr: np.ndarray,
            Xva: np.ndarray, yva: np.ndarray) -> tuple[dict[str, Any], float]:
    """The grid point with the best validation accuracy (first one on ties)."""
    best: tuple[float, dict[str, Any]] | None = None
    for params in ParameterGrid(dict(grid)) if grid else [{}]:
        cand = fresh(head).set_params(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cand.fit(Xtr, ytr)
        score = accuracy(yva, cand.predict(Xva))
        if best is None or score > best[0]:
            best = (score, dict(params))
    assert best is not None
    return best[1], best[0]


def _self_tuned(head: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """Settings a head chose itself during ``fit`` (the logistic head's ``C_``), unless fixed."""
    if "C" not in params and getattr(head, "C", 0) is None and hasattr(head, "C_"):
        return {"C": float(head.C_)}
    return {}


def linear_eval(
    heads: Any,
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    *,
    X_val: Any = None,
    y_val: Any = None,
    validation_fraction: float = 0.1,
    seeds: Any = (0,),
    grids: Mapping[str, Mapping[str, list[Any]]] | None = None,
    train_keys: np.ndarray | None = None,
    val_keys: np.ndarray | None = None,
    test_keys: np.ndarray | None = None,
    drop_overlap: bool = False,
    encoder_key: Mapping[str, Any] | None = None,
) -> LinearResult:
    """Linear evaluation of ``heads`` with hyperparameters chosen on validation rows only.

    Each head's grid (``grids``, default :data:`DEFAULT_GRIDS`) is searched by fitting on the
    training rows and scoring the validation rows (``X_val``; without one, a stratified
    ``validation_fraction`` of train, re-drawn per seed). The winner is refitted on train plus
    validation and the test rows are scored once. Test rows never reach selection.

    Leakage: test rows whose key (``test_keys``; default the embedding bytes) also occurs among
    the train or validation keys raise :class:`LeakageError`, or are dropped from the test set
    with ``drop_overlap=True`` (counted in ``n_dropped_overlap``).

    >>> from headwise.heads import NCMHead
    >>> X = np.r_[np.eye(2)[[0] * 10 + [1] * 10] + 0.01 * np.arange(20)[:, None]]
    >>> y = np.r_[[0] * 10 + [1] * 10]
    >>> res = linear_eval({"ncm": NCMHead()}, X, y, X + 0.001, y)
    >>> res.heads["ncm"].test_accuracy
    1.0
    """
    from sklearn.metrics import f1_score

    named = resolve_heads(heads)
    seeds_t = check_seeds(seeds)
    Xtr, ytr = check_split(X_train, y_train, "train")
    Xte, yte = check_split(X_test, y_test, "test", Xtr.shape[1], seen=ytr)
    has_val = X_val is not None
    if has_val:
        if y_val is None:
            raise InputError("X_val was given without y_val; pass both or neither.")
        Xva, yva = check_split(X_val, y_val, "validation", Xtr.shape[1])
    tk = row_keys(Xtr) if train_keys is None else np.asarray(train_keys)
    ek = row_keys(Xte) if test_keys is None else np.asarray(test_keys)
    vk = (row_keys(Xva) if val_keys is None else np.asarray(val_keys)) if has_val else None
    leak = find_leakage(tk, ek, vk)
    n_dropped = int(leak.sum())
    if n_dropped and not drop_overlap:
        raise LeakageError(
            f"{n_dropped} of {leak.size} test rows also appear in the train or validation rows "
            "(identical texts or embeddings), so the test score would be inflated. Remove them "
            "from the data, or pass drop_overlap=True (--drop-overlap) to score without them."
        )
    if n_dropped:
        Xte, yte = Xte[~leak], yte[~leak]
        if Xte.shape[0] == 0:
            raise InputError("Every test row also appears in train; nothing is left to score.")
    grids = DEFAULT_GRIDS if grids is None else grids
    results: dict[str, LinearHeadResult] = {}
    n_val = 0
    for name, head in track(named.items(), "linear: heads"):
        grid = grids.get(name, {})
        vals, tests, f1s, secs, chosen0 = [], [], [], [], {}
        for i, seed in enumerate(seeds_t):
            if has_val:
                a_X, a_y, b_X, b_y = Xtr, ytr, Xva, yva
            else:
                split = stratified_holdout(ytr, validation_fraction, seed)
                if split is None:
                    raise InputError(
                        "Could not carve a validation split from train: every class has one row. "
                        "Pass a validation split or more training rows."
                    )
                tr, va = split
                a_X, a_y, b_X, b_y = Xtr[tr], ytr[tr], Xtr[va], ytr[va]
            n_val = int(b_X.shape[0])
            params, val = _select(head, grid, a_X, a_y, b_X, b_y)
            final = fresh(head).set_params(**params)
            X_all, y_all = np.r_[a_X, b_X], np.r_[a_y, b_y]
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                final.fit(X_all, y_all)
            secs.append(time.perf_counter() - t0)
            pred = final.predict(Xte)
            vals.append(val)
            tests.append(accuracy(yte, pred))
            f1s.append(float(f1_score(yte, pred, average="macro")))
            if i == 0:
                chosen0 = {**params, **_self_tuned(final, params)}
        summary = Summary.of(tests)
        results[name] = LinearHeadResult(
            val_accuracy=float(np.mean(vals)), test_accuracy=summary.mean,
            macro_f1=float(np.mean(f1s)), fit_seconds=float(np.mean(secs)),
            chosen=chosen0, test=summary,
        )
    record = RunRecord(
        protocol="linear",
        encoder=encoder_key,
        data_hash=data_hash(Xtr, ytr, Xte, yte, *((Xva, yva) if has_val else ())),
        seeds=seeds_t,
        heads={n: head_params(h) for n, h in named.items()},
        settings={"grids": {n: dict(grids.get(n, {})) for n in named},
                  "validation": "given" if has_val else f"carved {validation_fraction} of train",
                  "drop_overlap": drop_overlap},
    )
    n_train = int(Xtr.shape[0]) - (0 if has_val else n_val)
    return LinearResult(results, n_train, n_val, int(Xte.shape[0]), n_dropped, record)


