"""`headwise quickstart`: embed a labelled table, fit every standard head, print a leaderboard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._atomic import check_not_input
from ..exceptions import InputError
from ..workflows import load_inputs
from ._options import (
    DEFAULT_ENCODER,
    ENCODE,
    BatchOpt,
    DataOptions,
    DropOverlapOpt,
    EncoderOpt,
    HeadsOpt,
    JsonOpt,
    WideOpt,
    data_options,
    head_names,
    seed_in_range,
)
from ._render import err_console, print_json, print_table, say_line, seconds, warn

# Looked for, in order, when no DATA is given: the shared data folder beside a checkout.
SAMPLE_DATA = (Path("../shared/data/banking77.jsonl.gz"), Path("shared/data/banking77.jsonl.gz"))


def _find_data(data: Path | None) -> Path:
    if data is not None:
        return data
    for candidate in SAMPLE_DATA:
        if candidate.is_file():
            return candidate
    raise InputError(
        "No data given and no sample found (looked for "
        + ", ".join(str(p) for p in SAMPLE_DATA)
        + "). Pass a labelled table: `headwise quickstart DATA.jsonl` with columns text, label "
        "and split (train/test)."
    )


@data_options("text_col", "label_col", "split_col", *ENCODE)
def quickstart(
    data: Annotated[
        Path | None,
        typer.Argument(help="Labelled table with train and test splits (default: the Banking77 sample).",
                       show_default=False),
    ] = None,
    encoder: EncoderOpt = DEFAULT_ENCODER,
    head: HeadsOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Head file for the best head.")] = Path(
        "headwise-out/best-head.safetensors"
    ),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out file.")] = False,
    validation_fraction: Annotated[
        float, typer.Option("--validation-fraction", help="Share of train held out for selection.")
    ] = 0.1,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the validation holdout.", callback=seed_in_range)] = 0,
    baseline: Annotated[
        bool, typer.Option("--baseline/--no-baseline", help="Also fit sklearn LogisticRegression.")
    ] = True,
    drop_overlap: DropOverlapOpt = False,
    batch_size: BatchOpt = 64,
    wide: WideOpt = False,
    as_json: JsonOpt = False,
    *,
    opts: DataOptions,
) -> None:
    """Embed DATA (cached), fit every standard head, rank them and save the best one.

    The best head is chosen on a validation split carved from train (never on test); every head is
    then refit on all train rows and scored once on test.
    """
    from ..compare import BASELINE_NAME, STANDARD_HEADS  # sklearn: loaded when a command runs
    from ..workflows import compare_table

    path = _find_data(data)
    check_not_input(out, path)
    say = (lambda m: None) if as_json else (lambda m: err_console.print(f"» {m}", style="dim", markup=False))
    table = load_inputs(path, encoder, **opts.reader())
    res = compare_table(
        table, encoder=encoder, heads=head_names(head, ",".join(STANDARD_HEADS)),
        options=opts.encoder(), validation_fraction=validation_fraction,
        seed=seed, baseline=baseline, out=out, overwrite=force, drop_overlap=drop_overlap,
        batch_size=batch_size, on_step=say,
    )  # fmt: skip
    if as_json:
        print_json(res.to_dict())
        return
    lb, emb = res.leaderboard, res.embedded
    rows = [
        [r.head + (" (baseline)" if r.baseline else " ★" if r.head == lb.best else ""),
         r.val_accuracy, r.test_accuracy, r.test_macro_f1, r.fit_seconds]
        for r in lb.rows
    ]  # fmt: skip
    print_table(
        f"{table.path.name}: {lb.n_train} train ({lb.n_val} held out for selection), {lb.n_test} test",
        ["head", "val acc", "test acc", "test macro-F1", "fit s"], rows, wide=wide,
    )  # fmt: skip
    if w := res.overlap.warning():
        warn(w)
    by = {r.head: r for r in lb.rows}
    if "logistic" in by and BASELINE_NAME in by and by["logistic"].test_accuracy is not None:
        ours, ref = by["logistic"], by[BASELINE_NAME]
        say_line(
            f"logistic head {100 * ours.test_accuracy:.1f}% vs sklearn LogisticRegression "
            f"{100 * (ref.test_accuracy or 0):.1f}% test accuracy; "
            f"fit {seconds(ours.fit_seconds)} vs {seconds(ref.fit_seconds)}"
        )
    say_line(f"best head by validation accuracy: {lb.best} → saved to {res.out}")
    say_line(f"done in {seconds(res.seconds)} (embedding {seconds(emb.seconds)}"
               f"{', cache hit' if emb.cached else ''})")  # fmt: skip
