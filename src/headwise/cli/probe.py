"""`headwise probe`: which layer (or attention head) of a model carries the labels of DATA."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ..workflows import load_inputs, probe_table
from ._options import (
    BatchOpt,
    DataArg,
    HeadsOpt,
    JsonOpt,
    LabelColOpt,
    MaxLenOpt,
    SplitColOpt,
    TextColOpt,
    WideOpt,
    one_head,
)
from ._render import print_json, print_table

PROBE_ENCODER = "smollm2"  # the one bundled layered LLM encoder with attention-head sites


def probe(
    data: DataArg,
    encoder: Annotated[
        str, typer.Option("--encoder", "-e", help="A layered LLM encoder (default smollm2).")
    ] = PROBE_ENCODER,
    layers: Annotated[
        str, typer.Option("--layers", help="'all' or e.g. '0,4,8-12' (blocks with --attention-heads).")
    ] = "all",
    attention_heads: Annotated[
        bool, typer.Option("--attention-heads", help="Sweep every (layer, attention head) output.")
    ] = False,
    head: HeadsOpt = None,
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
    wide: WideOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Fit a linear head on every layer (or attention head) of an LLM; report accuracies.

    The site is chosen on a validation part of the training rows; test accuracy is reported for
    every site. Features are cached per (layer, head, pooling): a second run only fits heads.
    """
    name = one_head(head, "ridge", "probe")
    table = load_inputs(data, encoder, text_col=text_col, label_col=label_col, split_col=split_col)
    options: dict[str, Any] = {} if max_length is None else {"max_length": max_length}
    result = probe_table(
        table, encoder=encoder, layers=layers, attention_heads=attention_heads, head=name,
        pooling=pooling, limit=limit, train_split=train_split, test_split=test_split,
        options=options, batch_size=batch_size, plot=plot,
    )  # fmt: skip
    if as_json:
        print_json(result.to_dict() | {"plot": None if plot is None else str(plot)})
        return
    title = (
        f"{result.encoder}: {name} per {'attention head' if attention_heads else 'layer'} "
        f"(train {result.n_train}, of which {result.n_val} validation; test {result.n_test})"
    )
    if attention_heads:
        cols = ["layer", "attention head", "val accuracy", "test accuracy"]
        print_table(title, cols, [list(t) for t in result.top(top)], wide=wide)
    else:
        cols = ["layer"] + [f"{c} val" for c in result.columns] + [f"{c} test" for c in result.columns]
        body = [
            [r, *result.val_accuracy[i].tolist(), *result.test_accuracy[i].tolist()]
            for i, r in enumerate(result.rows)
        ]
        print_table(title, cols, body, wide=wide)
    typer.echo(
        f"best (by validation): layer {result.best[0]}, {result.best[1]}: "
        f"val {100 * result.best_val_accuracy:.1f}%, test {100 * result.best_test_accuracy:.1f}%"
        + (f"; heatmap saved to {plot}" if plot else "")
    )
