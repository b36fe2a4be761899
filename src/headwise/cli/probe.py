"""`headwise probe` (alias `sweep`): which layer (or attention head) of an encoder carries the labels.

One command for every layered encoder: a transformer encoder (minilm, hf:<dir>) is swept layer
by layer from one forward pass; a layered LLM (smollm2) also by attention head.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..exceptions import InputError
from ..workflows import LayerSweep, load_inputs, sweep_sites
from ._options import (
    DEFAULT_ENCODER,
    DataArg,
    DataOptions,
    EncoderOpt,
    HeadsOpt,
    JsonOpt,
    RunDirOpt,
    WideOpt,
    data_options,
)
from ._render import note, print_json, print_table, say_line


@data_options("text_col", "label_col", "split_col", "max_length")
def probe(
    data: DataArg,
    encoder: EncoderOpt = DEFAULT_ENCODER,
    layers: Annotated[
        str, typer.Option("--layers", help="'all' or e.g. '0,4,8-12' (blocks with --attention-heads).")
    ] = "all",
    head: HeadsOpt = None,
    attention_heads: Annotated[
        bool, typer.Option("--attention-heads", help="Layered LLMs: sweep every (layer, attention head).")
    ] = False,
    pooling: Annotated[
        str | None,
        typer.Option("--pooling", help="LLMs: last or mean (default both); transformers: mean or cls."),
    ] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Save the accuracies as a PNG (needs matplotlib).")] = None,
    run_dir: RunDirOpt = None,
    out: Annotated[Path | None, typer.Option("--out", hidden=True, help="Refused: use --run-dir.")] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="LLMs: at most N rows per split (seeded random subset).")
    ] = None,
    train_split: Annotated[str, typer.Option("--train-split", help="LLMs: split to fit on.")] = "train",
    test_split: Annotated[
        str | None, typer.Option("--test-split", help="LLMs: split to report accuracy on (default: test).")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Inputs per forward pass (16 for LLMs, else 64).")
    ] = None,
    top: Annotated[
        int | None, typer.Option("--top", help="Best sites to list for --attention-heads (default 10).")
    ] = None,
    wide: WideOpt = False,
    as_json: JsonOpt = False,
    *,
    opts: DataOptions,
) -> None:
    """Fit a head on every layer (or attention head) of an encoder; report accuracies.

    The site is chosen on validation rows carved from train; test accuracy is reported for every
    site. Features are cached per site: a second run only fits heads.
    """
    if out is not None:
        raise InputError(f"--out names a file, but this command writes a folder of results: use --run-dir {out}.")
    if top is not None and not attention_heads:
        raise InputError("--top lists the best (layer, attention head) sites; add --attention-heads or drop it.")
    table = load_inputs(data, encoder, **opts.reader())
    res = sweep_sites(
        table, encoder=encoder, layers=layers, heads=head, attention_heads=attention_heads,
        pooling=pooling, limit=limit, train_split=train_split, test_split=test_split,
        max_length=opts.max_length, batch_size=batch_size, plot=plot, run_dir=run_dir,
    )  # fmt: skip
    if run_dir is not None:
        note(f"wrote {run_dir / ('sweep.json' if isinstance(res, LayerSweep) else 'probe.json')}")
    if plot is not None:
        note(f"wrote {plot}")
    if isinstance(res, LayerSweep):
        if as_json:
            print_json(res.payload)
        else:
            print_table(res.title, res.columns, res.to_rows(), wide=wide)
        return
    if as_json:
        print_json(res.to_dict() | {"plot": None if plot is None else str(plot)})
        return
    title = (
        f"{res.encoder}: {res.head} per {'attention head' if attention_heads else 'layer'} "
        f"(train {res.n_train}, of which {res.n_val} validation; test {res.n_test})"
    )
    if attention_heads:
        cols = ["layer", "attention head", "val accuracy", "test accuracy"]
        print_table(title, cols, [list(t) for t in res.top(top or 10)], wide=wide)
    else:
        cols = ["layer"] + [f"{c} val" for c in res.columns] + [f"{c} test" for c in res.columns]
        body = [[r, *res.val_accuracy[i].tolist(), *res.test_accuracy[i].tolist()] for i, r in enumerate(res.rows)]
        print_table(title, cols, body, wide=wide)
    say_line(
        f"best (by validation): layer {res.best[0]}, {res.best[1]}: "
        f"val {100 * res.best_val_accuracy:.1f}%, test {100 * res.best_test_accuracy:.1f}%"
        + (f"; heatmap saved to {plot}" if plot else "")
    )
