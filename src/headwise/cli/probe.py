"""`headwise probe`: which layer (or attention head) of a model carries the labels of DATA."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from ..datasets import load_table
from ..exceptions import InputError
from ._common import (
    BatchOpt,
    DataArg,
    JsonOpt,
    LabelColOpt,
    MaxLenOpt,
    SplitColOpt,
    TextColOpt,
    handle_errors,
    indices_for,
    print_json,
    print_table,
)


def _subsample(idx: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    if limit is None or idx.size <= limit:
        return idx
    if limit < 1:
        raise InputError(f"--limit must be a positive number of rows, got {limit}.")
    return np.sort(np.random.default_rng(seed).choice(idx, size=limit, replace=False))


@handle_errors
def probe(
    data: DataArg,
    encoder: Annotated[
        str, typer.Option("--encoder", "-e", help="A layered LLM encoder, e.g. smollm2.")
    ] = "smollm2",
    layers: Annotated[
        str, typer.Option("--layers", help="'all' or e.g. '0,4,8-12' (blocks with --attention-heads).")
    ] = "all",
    attention_heads: Annotated[
        bool, typer.Option("--attention-heads", help="Sweep every (layer, attention head) output.")
    ] = False,
    head: Annotated[str, typer.Option("--head", "-h", help="ridge, lda, logistic or ncm.")] = "ridge",
    pooling: Annotated[
        str | None,
        typer.Option("--pooling", help="last or mean (default: both for layers, mean for heads)."),
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Save the accuracy heatmap here (needs matplotlib).")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="At most N rows per split (seeded random subset).")
    ] = None,
    train_split: Annotated[str, typer.Option("--train-split", help="Split to fit on.")] = "train",
    test_split: Annotated[
        str | None, typer.Option("--test-split", help="Split to report accuracy on (default: test).")
    ] = None,
    text_col: TextColOpt = None,
    label_col: LabelColOpt = None,
    split_col: SplitColOpt = None,
    max_length: MaxLenOpt = None,
    batch_size: BatchOpt = 16,
    top: Annotated[int, typer.Option("--top", help="Best sites to list for --attention-heads.")] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Fit a linear head on every layer (or attention head) of an LLM; report accuracies.

    The site is chosen on a validation part of the training rows; test accuracy is reported for
    every site. Features are cached per (layer, head, pooling): a second run only fits heads.
    """
    from ..encoders import get_encoder
    from ..probing import head_sweep, layer_sweep, plot_sweep

    table = load_table(data, text_col=text_col, label_col=label_col, split_col=split_col)
    table.require_single_label()
    assert table.labels is not None
    options: dict[str, Any] = {} if max_length is None else {"max_length": max_length}
    enc = get_encoder(encoder, **options)
    if not hasattr(enc, "encode_targets"):
        raise InputError(
            f"Encoder '{encoder}' has no per-layer targets to probe; use a layered LLM encoder "
            "such as 'smollm2'."
        )
    if pooling is not None and pooling not in ("last", "mean"):
        raise InputError(f"--pooling must be 'last' or 'mean', got {pooling!r}.")
    if table.splits is None:
        train, test = np.arange(len(table)), np.array([], dtype=np.int64)
    else:
        train = indices_for(table, train_split)
        if test_split is None:
            test = table.split_indices("test")
        else:
            test = indices_for(table, test_split)
    train, test = _subsample(train, limit, 0), _subsample(test, limit, 1)
    rows = np.concatenate([train, test])
    texts = [table.texts[i] for i in rows]
    y = table.labels[rows]
    tr, te = np.arange(train.size), np.arange(train.size, rows.size)
    common = dict(train=tr, test=te, layers=layers, head=head, batch_size=batch_size)
    if attention_heads:
        result = head_sweep(enc, texts, y, pooling=pooling or "mean", **common)
    else:
        result = layer_sweep(enc, texts, y, poolings=(pooling,) if pooling else ("last", "mean"), **common)
    if plot is not None:
        plot_sweep(result, plot)
    if as_json:
        print_json(result.to_dict() | {"plot": None if plot is None else str(plot)})
        return
    title = (
        f"{result.encoder}: {head} per {'attention head' if attention_heads else 'layer'} "
        f"(train {result.n_train}, of which {result.n_val} validation; test {result.n_test})"
    )
    if attention_heads:
        cols = ["layer", "attention head", "val accuracy", "test accuracy"]
        print_table(title, cols, [list(t) for t in result.top(top)])
    else:
        cols = ["layer"] + [f"{c} val" for c in result.columns] + [f"{c} test" for c in result.columns]
        body = [
            [r, *result.val_accuracy[i].tolist(), *result.test_accuracy[i].tolist()]
            for i, r in enumerate(result.rows)
        ]
        print_table(title, cols, body)
    typer.echo(
        f"best (by validation): layer {result.best[0]}, {result.best[1]}: "
        f"val {result.best_val_accuracy:.4f}, test {result.best_test_accuracy:.4f}"
        + (f"; heatmap saved to {plot}" if plot else "")
    )
