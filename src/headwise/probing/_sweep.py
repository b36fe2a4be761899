"""Layer and attention-head sweeps: one validation-selected linear head per site."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..exceptions import InputError
from ._result import SweepResult

__all__ = ["head_sweep", "layer_sweep", "parse_layers"]

SWEEP_HEADS = ("ridge", "lda", "logistic", "ncm")


def parse_layers(spec: str | Sequence[int] | None, top: int) -> list[int]:
    """``"all"``/None → ``0..top``; ``"0,4,8-10"`` or a list → those indices (checked, sorted).

    >>> parse_layers("all", 3), parse_layers("1,3-4,-1", 5)
    ([0, 1, 2, 3], [1, 3, 4, 5])
    """
    if spec is None or (isinstance(spec, str) and spec.strip().lower() == "all"):
        return list(range(top + 1))
    values: list[int] = []
    if isinstance(spec, str):
        try:
            for part in spec.split(","):
                part = part.strip()
                if "-" in part[1:]:
                    cut = part.index("-", 1)
                    lo, hi = int(part[:cut]), int(part[cut + 1 :])
                    values += list(range(lo, hi + 1))
                else:
                    values.append(int(part))
        except ValueError:
            raise InputError(
                f"Layers must be 'all' or a list such as '0,4,8-12'; got {spec!r}."
            ) from None
    else:
        values = [int(v) for v in spec]
    bad = [v for v in values if not -top - 1 <= v <= top]
    if bad or not values:
        raise InputError(f"Layers must lie in [0, {top}] (negative counts from the end); got {spec!r}.")
    return sorted({v % (top + 1) for v in values})


def _split(y: np.ndarray, train: np.ndarray, validation_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from ..splits import stratified_holdout

    split = stratified_holdout(y[train], validation_fraction, seed)
    if split is None:
        raise InputError("The sweep needs at least two training rows in some class to hold out.")
    return train[split[0]], train[split[1]]


def _score(head: str, params: dict[str, Any], X: np.ndarray, y: np.ndarray, fit_rows: np.ndarray,
           val_rows: np.ndarray, train: np.ndarray, test: np.ndarray) -> tuple[float, float]:
    from ..heads import get_head

    val = float(get_head(head, **params).fit(X[fit_rows], y[fit_rows]).score(X[val_rows], y[val_rows]))
    if test.size == 0:
        return val, float("nan")
    return val, float(get_head(head, **params).fit(X[train], y[train]).score(X[test], y[test]))


def _score_grid(
    features: Any, rows: Sequence[int], cols: Sequence[Any], head: str, params: dict[str, Any],
    y: np.ndarray, fit_rows: np.ndarray, val_rows: np.ndarray, train: np.ndarray, test: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Validation and test accuracy of ``head`` on ``features(row, col)`` for every grid site."""
    val = np.empty((len(rows), len(cols)))
    tst = np.empty_like(val)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            X = features(r, c)
            val[i, j], tst[i, j] = _score(head, params, X, y, fit_rows, val_rows, train, test)
    return val, tst


def _head_params(head: str, params: dict[str, Any] | None) -> dict[str, Any]:
    if head not in SWEEP_HEADS:
        raise InputError(f"Sweeps fit one of {', '.join(SWEEP_HEADS)} per site; got head={head!r}.")
    if params is not None:
        return dict(params)
    if head == "ridge":
        return {"alpha_selection": "val"}  # validation-chosen α, like the site itself
    return {}


def _prepare(y: Any, train: Any, test: Any, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(y)
    if y.shape != (n,):
        raise InputError(f"y must hold one label per text ({n}); got shape {y.shape}.")
    train = np.arange(n) if train is None else np.asarray(train, dtype=np.int64)
    test = np.array([], dtype=np.int64) if test is None else np.asarray(test, dtype=np.int64)
    if train.size < 4:
        raise InputError(f"A sweep needs at least 4 training rows; got {train.size}.")
    return y, train, test


def _sweep_sites(
    kind: str, encoder: Any, texts: Sequence[str], y: Any, train: Any, test: Any, layers: Any,
    top: int, cols: list[Any], site: Callable[[int, Any], tuple[int, Any, str]], pooling: str | None,
    head: str, head_params: dict[str, Any] | None, validation_fraction: float, random_state: int,
    store: Any, batch_size: int, progress: bool | None,
) -> SweepResult:
    """The sweep both public sweeps run: ``site(row, col)`` names the features of a grid cell
    (``(layer, attention head or None, pooling)``); all come from one pass, then one head each."""
    from ._features import site_features

    texts = list(texts)
    y, train, test = _prepare(y, train, test, len(texts))
    params = _head_params(head, head_params)
    rows = parse_layers(layers, top)
    fit_rows, val_rows = _split(y, train, validation_fraction, random_state)
    feats = site_features(
        encoder, texts, [site(r, c) for r in rows for c in cols],
        store=store, batch_size=batch_size, progress=progress,
    )  # fmt: skip
    val, tst = _score_grid(
        lambda r, c: feats[site(r, c)], rows, cols, head, params, y, fit_rows, val_rows, train, test
    )
    return SweepResult.from_grid(kind, str(encoder.name), head, pooling, rows, cols, val, tst,
                                 train.size, val_rows.size, test.size)  # fmt: skip


def layer_sweep(
    encoder: Any,
    texts: Sequence[str],
    y: Any,
    *,
    train: Any = None,
    test: Any = None,
    layers: str | Sequence[int] | None = "all",
    poolings: Sequence[str] = ("last", "mean"),
    head: str = "ridge",
    head_params: dict[str, Any] | None = None,
    validation_fraction: float = 0.2,
    random_state: int = 0,
    store: Any = None,
    batch_size: int = 16,
    progress: bool | None = None,
) -> SweepResult:
    """Fit ``head`` on every hidden state × pooling of ``encoder`` and report accuracies.

    Parameters
    ----------
    encoder : CausalLMEncoder
        E.g. ``get_encoder("smollm2")``.
    texts, y : every row's text and label; ``train``/``test`` index into them (default: all
        rows train, no test).
    layers : "all", "0,4,8-12" or a list of hidden-state indices.
    head : {"ridge", "lda", "logistic", "ncm"}, default "ridge" (validation-chosen α).
    store : EmbeddingStore, None (the default cache) or False (no cache).

    Examples
    --------
    >>> from headwise.encoders import get_encoder
    >>> r = layer_sweep(get_encoder("smollm2"), texts, y, train=tr, test=te)  # doctest: +SKIP
    >>> r.best, r.best_test_accuracy  # doctest: +SKIP
    ((18, 'mean'), 0.83)
    """
    return _sweep_sites(
        "layers", encoder, texts, y, train, test, layers, encoder.n_layers, list(poolings),
        lambda r, p: (r, None, p), None, head, head_params, validation_fraction, random_state,
        store, batch_size, progress,
    )  # fmt: skip


def head_sweep(
    encoder: Any,
    texts: Sequence[str],
    y: Any,
    *,
    train: Any = None,
    test: Any = None,
    layers: str | Sequence[int] | None = "all",
    pooling: str = "mean",
    head: str = "ridge",
    head_params: dict[str, Any] | None = None,
    validation_fraction: float = 0.2,
    random_state: int = 0,
    store: Any = None,
    batch_size: int = 16,
    progress: bool | None = None,
) -> SweepResult:
    """Fit ``head`` on every (block, attention head) output of ``encoder``; see :func:`layer_sweep`.

    ``layers`` are block indices ``0..n_layers-1``; each site is that head's ``head_dim``-wide
    output before ``o_proj``, pooled with ``pooling``. Features of all sites come from one
    forward pass per batch and are cached per (block, head, pooling).
    """
    return _sweep_sites(
        "heads", encoder, texts, y, train, test, layers, encoder.n_layers - 1,
        list(range(encoder.n_heads)), lambda r, h: (r, h, pooling), pooling, head, head_params,
        validation_fraction, random_state, store, batch_size, progress,
    )  # fmt: skip
