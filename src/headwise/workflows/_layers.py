"""Which layer (or attention head) of an encoder carries the labels: the sweep workflows.

``sweep_table`` fits heads on every hidden layer of a transformer encoder (one forward pass,
cached per layer); ``probe_table`` fits a linear head on every layer or attention-head output
of a layered LLM encoder (features cached per site).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..datasets import Table
from ..exceptions import InputError
from ..probing import SweepResult
from ._data import indices_for, require_splits

__all__ = ["LayerSweep", "probe_table", "sweep_table"]


@dataclass(frozen=True)
class LayerSweep:
    """Per-layer accuracies of one or more heads on one table."""

    results: tuple[SweepResult, ...] = field(repr=False)  # one per head, one column each
    payload: dict[str, Any] = field(repr=False)  # JSON written to RUN/sweep.json
    title: str

    def to_rows(self) -> list[list[Any]]:
        first = self.results[0]
        return [[layer] + [float(v) for r in self.results for v in (r.val_accuracy[i, 0], r.test_accuracy[i, 0])]
                for i, layer in enumerate(first.layers)]  # fmt: skip

    @property
    def columns(self) -> list[str]:
        return ["layer"] + [f"{r.head} {s}" for r in self.results for s in ("val", "test")]


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install headwise[plot]") from None


def sweep_table(
    table: Table,
    *,
    encoder: str = "minilm",
    layers: str = "all",
    heads: str = "lda",
    options: dict[str, Any] | None = None,
    batch_size: int = 64,
    plot: str | Path | None = None,
    run_dir: str | Path | None = None,
) -> LayerSweep:
    """Accuracy of each head at every layer of ``encoder`` on ``table``'s train/test splits."""
    from .._atomic import write_json
    from ..encoders import get_encoder
    from ..protocols import (
        embed_layers,
        layer_sweep_eval,
        layer_sweep_json,
        plot_sweep,
        resolve_layers,
    )

    if plot is not None:
        _require_matplotlib()
    tr, va, te = require_splits(table, "the sweep")
    enc = get_encoder(encoder, **(options or {}))
    wanted = resolve_layers(enc, layers)
    by_layer = embed_layers(enc, table.texts, wanted, batch_size=batch_size)
    names = [h.strip() for h in heads.split(",") if h.strip()]
    results = tuple(
        layer_sweep_eval(h, by_layer, table.labels, train_idx=tr, test_idx=te,
                         val_idx=va if va.size else None, encoder_key=enc.key_for_layer(wanted[-1]))
        for h in names
    )  # fmt: skip
    payload = layer_sweep_json(results, dataset=table.path.name, encoder=encoder)
    if run_dir is not None:
        write_json(Path(run_dir) / "sweep.json", payload, make_parents=True)
    if plot is not None:
        plot_sweep(list(results), plot)
    return LayerSweep(results, payload, f"layer sweep on {table.path.name} ({encoder})")


def _subsample(idx: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    if limit is None or idx.size <= limit:
        return idx
    return np.sort(np.random.default_rng(seed).choice(idx, size=limit, replace=False))


def probe_table(
    table: Table,
    *,
    encoder: str = "smollm2",
    layers: str = "all",
    attention_heads: bool = False,
    head: str = "ridge",
    pooling: str | None = None,
    limit: int | None = None,
    train_split: str = "train",
    test_split: str | None = None,
    options: dict[str, Any] | None = None,
    batch_size: int = 16,
    plot: str | Path | None = None,
) -> Any:
    """Fit ``head`` on every layer (or attention head) output of a layered LLM encoder.

    The site is chosen on a validation part of the training rows; test accuracy is reported
    for every site. Returns a :class:`~headwise.probing.SweepResult`.
    """
    from .._validation import check_choice, check_int_range
    from ..encoders import get_encoder
    from ..probing import head_sweep, layer_sweep, plot_sweep

    if limit is not None:
        check_int_range(limit, "--limit", 1)
    if pooling is not None:
        check_choice(pooling, "--pooling", ("last", "mean"))
    assert table.labels is not None
    enc = get_encoder(encoder, **(options or {}))
    if not hasattr(enc, "encode_targets"):
        raise InputError(
            f"Encoder '{encoder}' has no per-layer targets to probe; use a layered LLM encoder "
            "such as 'smollm2'."
        )
    if table.splits is None:
        train, test = np.arange(len(table)), np.array([], dtype=np.int64)
    else:
        train = indices_for(table, train_split)
        test = table.split_indices("test") if test_split is None else indices_for(table, test_split)
    train, test = _subsample(train, limit, 0), _subsample(test, limit, 1)
    rows = np.concatenate([train, test])
    texts = [table.texts[i] for i in rows]
    y = table.labels[rows]
    tr, te = np.arange(train.size), np.arange(train.size, rows.size)
    common: dict[str, Any] = dict(train=tr, test=te, layers=layers, head=head, batch_size=batch_size)
    if attention_heads:
        result = head_sweep(enc, texts, y, pooling=pooling or "mean", **common)
    else:
        result = layer_sweep(enc, texts, y, poolings=(pooling,) if pooling else ("last", "mean"), **common)
    if plot is not None:
        plot_sweep(result, plot)
    return result


def sweep_sites(
    table: Table,
    *,
    encoder: str = "minilm",
    layers: str = "all",
    heads: str | None = None,
    attention_heads: bool = False,
    pooling: str | None = None,
    limit: int | None = None,
    train_split: str = "train",
    test_split: str | None = None,
    max_length: int | None = None,
    batch_size: int | None = None,
    plot: str | Path | None = None,
    run_dir: str | Path | None = None,
) -> LayerSweep | Any:
    """Which site of ``encoder`` carries the labels: the one entry point for layer sweeps.

    A layered LLM (``encode_targets``: layers and attention heads) goes to :func:`probe_table`
    and returns a :class:`headwise.probing.SweepResult`; a transformer encoder with
    ``encode_layers`` goes to :func:`sweep_table` and returns a :class:`LayerSweep`. Options
    that only one kind takes are refused for the other, never ignored.
    """
    from .._atomic import write_json
    from ..encoders import get_encoder, is_layered

    if plot is not None:
        _require_matplotlib()
    options: dict[str, Any] = {} if max_length is None else {"max_length": max_length}
    kind = is_layered(get_encoder(encoder, **options))
    if kind is None:
        raise InputError(
            f"Encoder '{encoder}' exposes no hidden layers and no per-layer targets to sweep; use a "
            "transformer encoder (minilm, hf:<local model dir>) or a layered LLM such as 'smollm2'."
        )
    names = [h.strip() for h in (heads or "").split(",") if h.strip()]
    if kind == "sites":
        if len(names) > 1:
            raise InputError(f"A site sweep of '{encoder}' fits one head; got {', '.join(names)}.")
        result = probe_table(
            table, encoder=encoder, layers=layers, attention_heads=attention_heads,
            head=names[0] if names else "ridge", pooling=pooling, limit=limit,
            train_split=train_split, test_split=test_split, options=options,
            batch_size=batch_size or 16, plot=plot,
        )  # fmt: skip
        if run_dir is not None:
            write_json(Path(run_dir) / "probe.json", result.to_dict(), make_parents=True)
        return result
    given = {"--attention-heads": attention_heads, "--limit": limit, "--test-split": test_split,
             "--train-split": train_split if train_split != "train" else None}  # fmt: skip
    bad = [k for k, v in given.items() if v]
    if bad:
        raise InputError(
            f"{', '.join(bad)} appl{'ies' if len(bad) == 1 else 'y'} to layered LLMs such as "
            f"smollm2, not to '{encoder}'; drop {'it' if len(bad) == 1 else 'them'}."
        )
    opts = {**options, **({"pooling": pooling} if pooling else {})}
    return sweep_table(table, encoder=encoder, layers=layers, heads=",".join(names) or "lda", options=opts,
                       batch_size=batch_size or 64, plot=plot, run_dir=run_dir)  # fmt: skip
