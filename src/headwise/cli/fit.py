"""`headwise fit`: embed a table (through the cache) and fit one head on its train split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from .._atomic import check_not_input
from ..exceptions import InputError
from ..workflows import check_overlap, fit_head, load_inputs, media_report
from ._options import (
    DEFAULT_ENCODER,
    ENCODE,
    READ,
    BatchOpt,
    DataArg,
    DataOptions,
    DtypeOpt,
    EncoderOpt,
    HeadsOpt,
    JsonOpt,
    RayAddressOpt,
    RayOpt,
    RunDirOpt,
    data_options,
    one_head,
    refuse,
)
from ._render import media_notes, note, print_json, print_record, warn


def parse_params(pairs: list[str] | None) -> dict[str, Any]:
    """``--param C=0.5 --param metric=euclidean`` → dict with JSON-ish values."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise InputError(f"--param expects NAME=VALUE, got '{pair}'.")
        k, v = pair.split("=", 1)
        if k.strip() in out:  # the last one silently won
            raise InputError(f"--param {k.strip()} is given twice; give each parameter once.")
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


@data_options(*READ, *ENCODE)
def fit(
    data: DataArg,
    head: HeadsOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Head file to write.")] = Path("head.safetensors"),
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Head parameter NAME=VALUE (repeatable).")
    ] = None,
    train_split: Annotated[str, typer.Option("--train-split", help="Split to fit on.")] = "train",
    encoder: EncoderOpt = DEFAULT_ENCODER,
    batch_size: BatchOpt = 64,
    dtype: DtypeOpt = "float32",
    calibrate: Annotated[
        bool,
        typer.Option(
            "--calibrate",
            help="Hold out train rows; store a temperature and conformal calibration in the head file.",
        ),
    ] = False,
    calib_frac: Annotated[
        float | None,
        typer.Option("--calib-frac", help="Fraction of train rows held out by --calibrate (default 0.2)."),
    ] = None,
    alpha: Annotated[
        float | None,
        typer.Option("--alpha", help="With --calibrate: report coverage at this miscoverage (default 0.1)."),
    ] = None,
    run_dir: RunDirOpt = None,
    as_json: JsonOpt = False,
    ray: RayOpt = False,
    ray_address: RayAddressOpt = None,
    *,
    opts: DataOptions,
) -> None:
    """Fit a head on the train split of DATA and save it (safetensors + JSON, no pickle)."""
    name = one_head(head, "auto", "fit")
    if run_dir is not None and not calibrate:
        raise InputError("--run-dir writes calibration and conformal results; add --calibrate.")
    if not calibrate:
        refuse("fit without --calibrate", calib_frac=calib_frac, alpha=alpha)
    calib_frac = 0.2 if calib_frac is None else calib_frac
    check_not_input(out, data)
    table = load_inputs(data, encoder, **opts.reader(), multilabel=True)
    if table.is_multilabel:
        if ray or ray_address is not None:
            raise InputError("--ray takes single-label data; drop it for multi-label data.")
        from ..workflows import fit_multilabel_table
        from ._multilabel import render_fit

        res_ml = fit_multilabel_table(
            table, encoder=encoder, head=name, params=parse_params(param), out=out,
            train_split=train_split, options=opts.encoder(),
            batch_size=batch_size, dtype=dtype, calib_frac=calib_frac if calibrate else None,
            alpha=0.1 if alpha is None else alpha, run_dir=run_dir,
        )  # fmt: skip
        render_fit(res_ml, as_json)
        if run_dir is not None and not as_json:
            note(f"wrote {run_dir / 'multilabel.json'}")
        return
    res = fit_head(
        table, encoder=encoder, head=name, params=parse_params(param), out=out,
        train_split=train_split, options=opts.encoder(),
        batch_size=batch_size, dtype=dtype, calibrate=calibrate, calib_frac=calib_frac, alpha=0.1 if alpha is None else alpha,
        run_dir=run_dir, ray=ray or ray_address is not None, ray_address=ray_address,
    )  # fmt: skip
    result = res.to_dict()
    overlap = None
    if table.splits is not None and table.split_indices("test").size:
        train = table.split_indices(train_split)
        overlap = check_overlap(table, train, table.split_indices("test"), res.embedded.X)
        result["n_test_overlap"] = overlap.n_overlap
    report = media_report(table)
    if as_json:
        print_json({**result, **report})
        return
    media_notes(table)
    shown: dict[str, Any] = {
        "head": name, "classes": res.n_classes, "train rows": res.n_train,
        "fit time": res.fit_seconds, "embed time": res.embedded.seconds,
        "cache hit": res.embedded.cached,
    }  # fmt: skip
    if res.chosen:  # auto's stack ("lda 0.49 + zeroshot 0.51") or a tuned penalty ("C 0.0021")
        shown["chosen"] = " + ".join(f"{k} {v:g}" for k, v in res.chosen.items())
    if res.validation_accuracy is not None:
        shown["validation accuracy"] = res.validation_accuracy
    if res.n_calibration is not None:
        shown["calibration rows"] = res.n_calibration
        shown["temperature"] = res.temperature
    if res.trust is not None:
        t = res.trust
        shown["test accuracy"] = t["accuracy"]
        shown["test ECE before"] = t["ece_before"]
        shown["test ECE after"] = t["ece_after"]
        shown[f"coverage at α={t['alpha']:g}"] = t["coverage"]
        shown["mean set size"] = t["mean_set_size"]
    if report:
        shown.update(skipped=report["skipped"], ignored=report["ignored"])
    kinds = {"temperature": "plain", "mean set size": "plain", "test ECE before": "plain",
             "test ECE after": "plain"}  # fmt: skip
    print_record(f"fitted {name} → {out}", shown, kinds=kinds)
    for w in res.warnings:
        warn(w)
    if overlap is not None and (w := overlap.warning()):
        warn(w.replace("pass --drop-overlap to leave them out", "`headwise score --drop-overlap` leaves them out"))
    if res.run_dir is not None:
        note(f"wrote {res.run_dir}")
