"""`headwise ood`: OOD detection with held-out classes (the ``ood`` protocol)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..workflows import EvalRequest, encoder_options, evaluate, load_inputs
from ._options import (
    DEFAULT_ENCODER,
    BatchOpt,
    DataArg,
    EncoderOpt,
    HeadsOpt,
    JsonOpt,
    LabelColOpt,
    PrecisionOpt,
    RunDirOpt,
    SplitColOpt,
    TextColOpt,
    WideOpt,
    one_head,
)
from ._views import show_eval


def ood(
    data: DataArg,
    head: HeadsOpt = None,
    holdout_classes: Annotated[
        int, typer.Option("--holdout-classes", help="Hold out this many random classes as OOD.")
    ] = 5,
    out_classes: Annotated[
        str | None, typer.Option("--out-classes", help="Comma-separated labels to treat as OOD instead.")
    ] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Allowed false-alarm rate on known classes.")] = 0.1,
    calib_frac: Annotated[float, typer.Option("--calib-frac", help="Train fraction for calibration.")] = 0.2,
    seed: Annotated[int, typer.Option("--seed", help="Seeds the held-out classes.")] = 0,
    run_dir: RunDirOpt = None,
    encoder: EncoderOpt = DEFAULT_ENCODER,
    text_col: TextColOpt = None,
    label_col: LabelColOpt = None,
    split_col: SplitColOpt = None,
    batch_size: BatchOpt = 64,
    precision: PrecisionOpt = None,
    wide: WideOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """OOD detection with held-out classes: AUROC and conformal-threshold rates per score."""
    request = EvalRequest(
        encoder=encoder, options=encoder_options(precision=precision), heads=one_head(head, "lda", "ood"), alpha=alpha,
        holdout_classes=holdout_classes, calib_frac=calib_frac, seed=seed, batch_size=batch_size,
        out_classes=tuple(c for c in (out_classes or "").split(",") if c.strip()),
    )  # fmt: skip
    table = load_inputs(data, encoder, text_col=text_col, label_col=label_col, split_col=split_col)
    show_eval(evaluate("ood", table, request, run_dir=run_dir), as_json, wide=wide, run_dir=run_dir)
