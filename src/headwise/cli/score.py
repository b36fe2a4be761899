"""`headwise score`: accuracy of a saved head on a labelled table (was `eval --model`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..workflows import head_encoder, load_inputs, score_head
from ._options import (
    READ,
    BatchOpt,
    DataArg,
    DataOptions,
    DropOverlapOpt,
    EncoderOverride,
    JsonOpt,
    data_options,
)
from ._views import show_score

ModelOpt = Annotated[Path, typer.Option("--model", "-m", help="A head saved by `headwise fit`.")]
SplitOpt = Annotated[
    str | None, typer.Option("--split", help="Split to score (default: test if present, else all rows).")
]


@data_options(*READ)
def score(
    data: DataArg,
    model: ModelOpt,
    split: SplitOpt = None,
    encoder: EncoderOverride = None,
    batch_size: BatchOpt = 64,
    drop_overlap: DropOverlapOpt = False,
    as_json: JsonOpt = False,
    *,
    opts: DataOptions,
) -> None:
    """Score a saved head on DATA: accuracy and macro-F1 (test split when present)."""
    table = load_inputs(data, head_encoder(model, encoder), **opts.reader(), multilabel=True)
    if table.is_multilabel:
        from ._multilabel import score_multilabel

        score_multilabel(model, table, split=split, encoder=encoder, batch_size=batch_size, as_json=as_json)
        return
    res = score_head(model, table, split=split, encoder=encoder, batch_size=batch_size,
                     drop_overlap=drop_overlap)  # fmt: skip
    show_score(res, table, as_json)
