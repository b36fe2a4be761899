"""`headwise ood`: OOD detection with held-out classes (the ``ood`` protocol)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..exceptions import InputError
from ..workflows import EvalRequest, evaluate, load_inputs
from ._options import (
    DEFAULT_ENCODER,
    BatchOpt,
    DataArg,
    DataOptions,
    EncoderOpt,
    HeadsOpt,
    JsonOpt,
    RunDirOpt,
    WideOpt,
    data_options,
    one_head,
    seed_in_range,
)
from ._views import show_eval


@data_options("text_col", "label_col", "split_col", "precision")
def ood(
    data: DataArg,
    head: HeadsOpt = None,
    holdout_classes: Annotated[
        int | None, typer.Option("--holdout-classes", help="Hold out this many random classes as OOD (default 5; fewer when under 7 classes).")
    ] = None,
    out_classes: Annotated[
        str | None, typer.Option("--out-classes", help="Comma-separated labels to treat as OOD instead.")
    ] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Allowed false-alarm rate on known classes.")] = 0.1,
    calib_frac: Annotated[float, typer.Option("--calib-frac", help="Train fraction for calibration.")] = 0.2,
    seed: Annotated[int, typer.Option("--seed", help="Seeds the held-out classes.", callback=seed_in_range)] = 0,
    run_dir: RunDirOpt = None,
    encoder: EncoderOpt = DEFAULT_ENCODER,
    batch_size: BatchOpt = 64,
    wide: WideOpt = False,
    as_json: JsonOpt = False,
    *,
    opts: DataOptions,
) -> None:
    """OOD detection with held-out classes: AUROC and conformal-threshold rates per score."""
    if holdout_classes is not None and out_classes is not None:
        raise InputError("--out-classes names the classes held out; --holdout-classes picks them at random. Pass one.")
    request = EvalRequest(
        encoder=encoder, options=opts.encoder(), heads=one_head(head, "lda", "ood"), alpha=alpha,
        holdout_classes=holdout_classes, calib_frac=calib_frac, seed=seed, batch_size=batch_size,
        out_classes=tuple(c for c in (out_classes or "").split(",") if c.strip()),
    )  # fmt: skip
    table = load_inputs(data, encoder, **opts.reader())
    show_eval(evaluate("ood", table, request, run_dir=run_dir), as_json, wide=wide, run_dir=run_dir)
