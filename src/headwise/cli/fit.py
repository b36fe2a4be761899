"""`headwise fit`: embed a table (through the cache) and fit one head on its train split."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from ..exceptions import InputError
from ._common import (
    BatchOpt,
    DataArg,
    DropUnlabeledOpt,
    DtypeOpt,
    Embedded,
    EncoderOpt,
    EncodingOpt,
    JsonOpt,
    LabelColOpt,
    LayerOpt,
    MaxLenOpt,
    OnErrorOpt,
    PoolingOpt,
    PrecisionOpt,
    RayAddressOpt,
    RayOpt,
    SplitColOpt,
    TextColOpt,
    embed_texts,
    encoder_options,
    handle_errors,
    indices_for,
    load_data,
    media_report,
    print_json,
    print_table,
)


def parse_params(pairs: list[str] | None) -> dict[str, Any]:
    """``--param C=0.5 --param metric=euclidean`` → dict with JSON-ish values."""
    import json

    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise InputError(f"--param expects NAME=VALUE, got '{pair}'.")
        k, v = pair.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v
    return out


@handle_errors
def fit(
    data: DataArg,
    head: Annotated[str, typer.Option("--head", "-h", help="Head name; `headwise heads` lists them.")] = "auto",
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to save the fitted head.")] = Path(
        "head.safetensors"
    ),
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Head parameter NAME=VALUE (repeatable).")
    ] = None,
    train_split: Annotated[str, typer.Option("--train-split", help="Split to fit on.")] = "train",
    encoder: EncoderOpt = "minilm",
    text_col: TextColOpt = None,
    label_col: LabelColOpt = None,
    split_col: SplitColOpt = None,
    layer: LayerOpt = None,
    pooling: PoolingOpt = None,
    max_length: MaxLenOpt = None,
    precision: PrecisionOpt = None,
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
        float, typer.Option("--calib-frac", help="Fraction of train rows held out by --calibrate.")
    ] = 0.2,
    run_dir: Annotated[
        Path | None,
        typer.Option("--run-dir", help="With --calibrate: write RUN/trust.json on the test split."),
    ] = None,
    on_error: OnErrorOpt = "fail",
    as_json: JsonOpt = False,
    drop_unlabeled: DropUnlabeledOpt = False,
    encoding: EncodingOpt = "utf-8",
    ray: RayOpt = False,
    ray_address: RayAddressOpt = None,
) -> None:
    """Fit a head on the train split of DATA and save it (safetensors + JSON, no pickle)."""
    from . import trust

    if run_dir is not None and not calibrate:
        raise InputError("--run-dir writes calibration and conformal results; add --calibrate.")
    if calibrate:
        trust.check_calib_frac(calib_frac)
    table = load_data(
        data, encoder, text_col=text_col, label_col=label_col, split_col=split_col,
        on_error=on_error, quiet=as_json,
        drop_unlabeled=drop_unlabeled, encoding=encoding, multilabel=True,
    )  # fmt: skip
    assert table.labels is not None
    if run_dir is not None:
        trust.require_test_split(table, "--run-dir")
    if getattr(table, "is_multilabel", False):
        if run_dir is not None:
            raise InputError("--run-dir is for single-label data; multi-label data has no trust run yet.")
        _fit_multilabel(table, head, parse_params(param), out, train_split, encoder,
                        encoder_options(layer, pooling, max_length), batch_size, dtype,
                        calib_frac if calibrate else None, as_json)  # fmt: skip
        return
    from ..heads import get_head

    h = get_head(head, **parse_params(param))
    opts = encoder_options(layer, pooling, max_length, precision)
    idx = indices_for(table, train_split) if table.splits is not None else np.arange(len(table))
    cal_idx = None
    if calibrate:
        fit_pos, cal_pos = trust.split_for_calibration(table.labels[idx], calib_frac)
        idx, cal_idx = idx[fit_pos], idx[cal_pos]
    if ray or ray_address is not None:  # embed and fit on Ray (headwise.distributed)
        from ..distributed import fit_inputs_ray

        res, h, fit_s = fit_inputs_ray(h, table.texts, table.labels, encoder, indices=idx,
                                       encoder_options=opts, batch_size=batch_size, dtype=dtype,
                                       address=ray_address)  # fmt: skip
        emb = Embedded(res.embeddings.to_numpy(), res.embeddings.encoder_key,
                       {"spec": encoder, "options": opts}, res.embeddings.key, res.cache_hit,
                       res.seconds)  # fmt: skip
    else:
        emb = embed_texts(table.texts, encoder, opts, batch_size=batch_size, dtype=dtype)
        t0 = time.perf_counter()
        h.fit(emb.X[idx], table.labels[idx])
        fit_s = time.perf_counter() - t0
    h.encoder_spec_ = emb.encoder_spec
    extra: dict[str, Any] = {}
    if cal_idx is not None:
        info = {"calib_frac": calib_frac, "seed": trust.CALIB_SEED, "split": train_split}
        cal = trust.fit_calibration(h, emb.X[cal_idx], table.labels[cal_idx], info)
        from ..trust import save_calibrated_head

        save_calibrated_head(h, out, cal, encoder_key=emb.encoder_key)
        extra = {"n_calibration": int(cal_idx.size), "temperature": cal.temperature}
        if run_dir is not None:
            extra["run_dir"] = str(trust.write_run(run_dir, table, emb.X, h, cal))
    else:
        h.save(out, encoder_key=emb.encoder_key)
    result: dict[str, Any] = {
        "head": head,
        "out": str(out),
        "n_train": int(idx.size),
        "n_classes": int(len(h.classes_)),
        "fit_seconds": fit_s,
        "embed_seconds": emb.seconds,
        "cache_hit": emb.cached,
        "cache_entry": emb.entry,
        **extra,
    }
    if table.splits is not None:
        val_idx = table.split_indices("validation")
        if val_idx.size:
            result["validation_accuracy"] = float(h.score(emb.X[val_idx], table.labels[val_idx]))
    report = media_report(table)
    if as_json:
        print_json({**result, **report})
    else:
        if report:
            result.update(skipped=report["skipped"], ignored=report["ignored"])
        print_table(f"fitted {head} → {out}", list(result), [list(result.values())])


def _fit_multilabel(
    table: Any, head: str, params: dict[str, Any], out: Path, train_split: str, encoder: str,
    opts: dict[str, Any], batch_size: int, dtype: str, calib_frac: float | None, as_json: bool,
) -> None:  # fmt: skip
    """`fit` on a table whose label column holds a list of labels per row."""
    from ..multilabel import evaluate_multilabel, fit_multilabel, save_multilabel_head

    emb = embed_texts(table.texts, encoder, opts, batch_size=batch_size, dtype=dtype)
    idx = indices_for(table, train_split) if table.splits is not None else np.arange(len(table))
    t0 = time.perf_counter()
    fitted = fit_multilabel(head, params, emb.X[idx], table.labels[idx], calib_frac=calib_frac)
    fit_s = time.perf_counter() - t0
    fitted.head.encoder_spec_ = emb.encoder_spec
    save_multilabel_head(fitted, out, emb.encoder_key)
    result: dict[str, Any] = {
        "head": fitted.name, "out": str(out), "n_train": fitted.n_train,
        "n_labels": int(len(fitted.head.classes_)), "multilabel": True, "fit_seconds": fit_s,
        "embed_seconds": emb.seconds, "cache_hit": emb.cached, "cache_entry": emb.entry,
    }  # fmt: skip
    if fitted.cal_logits is not None:
        result["n_calibration"] = int(fitted.cal_logits.shape[0])
    val_idx = table.split_indices("validation") if table.splits is not None else np.array([])
    if val_idx.size:
        m = evaluate_multilabel(fitted.head, emb.X[val_idx], table.labels[val_idx])
        result["validation_micro_f1"], result["validation_macro_f1"] = m["micro_f1"], m["macro_f1"]
    if as_json:
        print_json(result)
    else:
        print_table(f"fitted {fitted.name} → {out}", list(result), [list(result.values())])
