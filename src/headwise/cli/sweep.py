"""`headwise sweep`: accuracy of heads at every hidden layer of a transformer encoder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..exceptions import InputError
from ..workflows import encoder_options, load_inputs, sweep_table
from ._options import (
    DEFAULT_ENCODER,
    BatchOpt,
    DataArg,
    EncoderOpt,
    HeadsOpt,
    JsonOpt,
    LabelColOpt,
    MaxLenOpt,
    PoolingOpt,
    RunDirOpt,
    SplitColOpt,
    TextColOpt,
    WideOpt,
)
from ._render import note, print_json, print_table


def sweep(
    data: DataArg,
    layers: Annotated[str, typer.Option("--layers", help="'all' or a comma list such as 0,3,6.")] = "all",
    head: HeadsOpt = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Save accuracy by layer as a PNG.")] = None,
    run_dir: RunDirOpt = None,
    out: Annotated[Path | None, typer.Option("--out", hidden=True, help="Refused: use --run-dir.")] = None,
    encoder: EncoderOpt = DEFAULT_ENCODER,
    text_col: TextColOpt = None,
    label_col: LabelColOpt = None,
    split_col: SplitColOpt = None,
    pooling: PoolingOpt = None,
    max_length: MaxLenOpt = None,
    batch_size: BatchOpt = 64,
    wide: WideOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Accuracy of a head at every layer of a transformer encoder (one forward pass, cached)."""
    if out is not None:
        raise InputError(f"--out names a file, but sweep writes a folder of results: use --run-dir {out}.")
    table = load_inputs(data, encoder, text_col=text_col, label_col=label_col, split_col=split_col)
    res = sweep_table(
        table, encoder=encoder, layers=layers, heads=head or "lda",
        options=encoder_options(None, pooling, max_length), batch_size=batch_size, plot=plot,
        run_dir=run_dir,
    )  # fmt: skip
    if run_dir is not None:
        note(f"wrote {run_dir / 'sweep.json'}")
    if plot is not None:
        note(f"wrote {plot}")
    if as_json:
        print_json(res.payload)
        return
    print_table(res.title, res.columns, res.to_rows(), wide=wide)
