"""`headwise quickstart`: embed a labelled table, fit every standard head, print a leaderboard."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from ..compare import BASELINE_NAME, STANDARD_HEADS, compare_heads
from ..exceptions import InputError
from ._common import (
    BatchOpt,
    EncoderOpt,
    JsonOpt,
    LabelColOpt,
    LayerOpt,
    MaxLenOpt,
    PoolingOpt,
    PrecisionOpt,
    SplitColOpt,
    TextColOpt,
    embed_texts,
    encoder_options,
    err_console,
    handle_errors,
    indices_for,
    load_data,
    print_json,
    print_table,
)

DEFAULT_DATA = Path("../shared/data/banking77.jsonl.gz")


@handle_errors
def quickstart(
    data: Annotated[Path, typer.Argument(help="Labelled table with train and test splits.")] = DEFAULT_DATA,
    encoder: EncoderOpt = "minilm",
    heads: Annotated[
        str, typer.Option("--heads", help="Comma-separated heads to compare.")
    ] = ",".join(STANDARD_HEADS),
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to save the best head.")] = Path(
        "headwise-out/best-head.safetensors"
    ),
    validation_fraction: Annotated[
        float, typer.Option("--validation-fraction", help="Share of train held out for selection.")
    ] = 0.1,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the validation holdout.")] = 0,
    baseline: Annotated[
        bool, typer.Option("--baseline/--no-baseline", help="Also fit sklearn LogisticRegression.")
    ] = True,
    text_col: TextColOpt = None,
    label_col: LabelColOpt = None,
    split_col: SplitColOpt = None,
    layer: LayerOpt = None,
    pooling: PoolingOpt = None,
    max_length: MaxLenOpt = None,
    precision: PrecisionOpt = None,
    batch_size: BatchOpt = 64,
    as_json: JsonOpt = False,
) -> None:
    """Embed DATA (cached), fit every standard head, rank them and save the best one.

    The best head is chosen on a validation split carved from train (never on test); every head is
    then refit on all train rows and scored once on test.
    """
    t_start = time.perf_counter()
    table = load_data(
        data, encoder, text_col=text_col, label_col=label_col, split_col=split_col, quiet=as_json
    )
    assert table.labels is not None
    if table.splits is None:
        raise InputError(
            f"{table.path.name} has no split column; quickstart needs train and test splits "
            "(pass --split-col)."
        )
    head_names = tuple(h.strip() for h in heads.split(",") if h.strip())
    say = (lambda m: None) if as_json else (lambda m: err_console.print(f"[dim]» {m}[/]"))
    say(f"{len(table)} rows from {table.path.name}; embedding with {encoder} (cached after the first run)")
    emb = embed_texts(table.texts, encoder, encoder_options(layer, pooling, max_length, precision), batch_size=batch_size)
    say(f"embeddings {emb.X.shape} in {emb.seconds:.1f}s ({'cache hit' if emb.cached else 'computed'})")
    tr, te = indices_for(table, "train"), indices_for(table, "test")
    va = table.split_indices("validation")
    X_val = emb.X[va] if va.size else None
    y_val = table.labels[va] if va.size else None
    lb = compare_heads(
        emb.X[tr], table.labels[tr], emb.X[te], table.labels[te],
        heads=head_names, X_val=X_val, y_val=y_val,
        validation_fraction=validation_fraction, random_state=seed, baseline=baseline, on_step=say,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    lb.best_head.encoder_spec_ = emb.encoder_spec
    lb.best_head.save(out, encoder_key=emb.encoder_key)
    total = time.perf_counter() - t_start
    if as_json:
        print_json({**lb.to_dict(), "saved": str(out), "embed_seconds": emb.seconds,
                    "cache_hit": emb.cached, "total_seconds": total, "encoder": emb.encoder_key})
        return
    rows = [
        [r.head + (" (baseline)" if r.baseline else " ★" if r.head == lb.best else ""),
         r.val_accuracy, r.test_accuracy, r.test_macro_f1, r.fit_seconds]
        for r in lb.rows
    ]
    print_table(
        f"{table.path.name}: {lb.n_train} train ({lb.n_val} held out for selection), {lb.n_test} test",
        ["head", "val acc", "test acc", "test macro-F1", "fit s"],
        rows,
    )
    by = {r.head: r for r in lb.rows}
    if "logistic" in by and BASELINE_NAME in by and by["logistic"].test_accuracy is not None:
        ours, ref = by["logistic"], by[BASELINE_NAME]
        typer.echo(
            f"logistic head {ours.test_accuracy:.4f} vs sklearn LogisticRegression(max_iter=1000) "
            f"{ref.test_accuracy:.4f} test accuracy; fit {ours.fit_seconds:.1f}s vs {ref.fit_seconds:.1f}s"
        )
    typer.echo(f"best head by validation accuracy: {lb.best} → saved to {out}")
    typer.echo(f"done in {total:.1f}s (embedding {emb.seconds:.1f}s{', cache hit' if emb.cached else ''})")
