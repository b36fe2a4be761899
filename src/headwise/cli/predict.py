"""`headwise predict`: labels (with probabilities, sets and OOD flags) for every row of a table."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from .._atomic import atomic_write, check_not_input
from ..exceptions import InputError
from ..workflows import (
    PredictResult,
    check_predict_options,
    head_encoder,
    load_inputs,
    predict_table,
)
from ._options import (
    BatchOpt,
    DataArg,
    DataOptions,
    EncoderOverride,
    JsonOpt,
    WideOpt,
    data_options,
    refuse,
)
from ._render import fmt, media_notes, note, print_json, print_record, print_table

SHOWN_ROWS = 20


def _csv(res: PredictResult) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    sets = "prediction_set" in res.columns
    w.writerow(["row", "text", "label", "probability", *(["prediction_set"] if sets else [])])
    for r in res.records:
        cells = [r["row"], r["text"], r["label"], f"{r['probability']:.6f}"]
        w.writerow(cells + ([";".join(map(str, r["prediction_set"]))] if sets else []))
    return buf.getvalue()


def _metrics_view(m: dict[str, Any]) -> dict[str, Any]:
    shown = {"rows": m["n"], "accuracy": m["accuracy"], "macro-F1": m["macro_f1"]}
    if "coverage" in m:
        shown[f"coverage at α={m['alpha']:g}"] = m["coverage"]
        shown["mean set size"] = m["mean_set_size"]
    if m.get("unseen_labels"):
        shown["rows with unseen labels"] = m["unseen_labels"]
    return shown


def _is_multilabel_model(model: Path) -> bool:
    """Whether the head file holds a multi-label head (read from its header, nothing built)."""
    from ..heads import is_multilabel_head, list_heads, saved_head_name

    name = saved_head_name(model)
    return name is not None and name in list_heads() and is_multilabel_head(name)


@data_options("text_col", "split_col", "on_error", "drop_unlabeled", "encoding")
def predict(
    data: DataArg,
    model: Annotated[Path, typer.Option("--model", "-m", help="A head saved by `headwise fit`.")],
    split: Annotated[str | None, typer.Option("--split", help="Only rows of this split.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write predictions (.jsonl or .csv).")] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="Also list the k most probable labels.")] = 1,
    alpha: Annotated[
        float | None,
        typer.Option("--alpha", help="Conformal prediction sets at miscoverage alpha (needs fit --calibrate)."),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option("--method", help="Conformal score: lac (default), aps or raps; multi-label: crc (default) or lac."),
    ] = None,
    mondrian: Annotated[bool, typer.Option("--mondrian", help="Class-conditional coverage.")] = False,
    ood: Annotated[
        str | None, typer.Option("--ood", help="Flag rows as none of the known classes: msp, energy, mahalanobis.")
    ] = None,
    encoder: EncoderOverride = None,
    batch_size: BatchOpt = 64,
    wide: WideOpt = False,
    as_json: JsonOpt = False,
    *,
    opts: DataOptions,
) -> None:
    """Predict labels (with probabilities) for every row of DATA; labels are optional.

    When DATA has labels, accuracy (and with --alpha coverage and mean set size) is printed too.
    """
    if alpha is None:
        refuse("predict without --alpha", method=method, mondrian=mondrian)
    if out is not None and out.suffix.lower() not in (".jsonl", ".csv"):
        raise InputError(f"--out must end in .jsonl or .csv. Got {out.name} instead.")
    check_not_input(out, data, model)
    table = load_inputs(data, head_encoder(model, encoder), **opts.reader(), require_labels=False,
                        multilabel=True)  # fmt: skip
    if table.is_multilabel or _is_multilabel_model(model):
        if ood is not None or mondrian or top_k != 1:
            raise InputError("--ood, --mondrian and --top-k apply to single-label heads; drop them.")
        from ._multilabel import predict_multilabel_table

        predict_multilabel_table(model, table, split=split, encoder=encoder, batch_size=batch_size,
                                 alpha=alpha, method=method, out=out, as_json=as_json)  # fmt: skip
        return
    method = method or "lac"
    check_predict_options(alpha, method, ood, top_k)
    res = predict_table(model, table, split=split, top_k=top_k, alpha=alpha, method=method,
                        mondrian=mondrian, ood=ood, encoder=encoder, batch_size=batch_size)  # fmt: skip
    if out is not None:
        text = (
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in res.records)
            if out.suffix.lower() == ".jsonl" else _csv(res)
        )  # fmt: skip
        atomic_write(out, text, what="Predictions file")
    if as_json:
        print_json({"records": res.records, "metrics": res.metrics})
        return
    media_notes(table)
    if out is None:
        cols = [c for c in ("prediction_set", "ood") if c in res.columns]
        more = f", first {SHOWN_ROWS}" if len(res) > SHOWN_ROWS else ""
        print_table(
            f"predictions ({len(res)} rows{more})",
            ["row", "label", "probability", *(c.replace("_", " ") for c in cols), "text"],
            [[r["row"], r["label"], fmt(r["probability"], "pct"), *[r[c] for c in cols], str(r["text"])[:60]]
             for r in res.records[:SHOWN_ROWS]],
            wide=wide,
        )  # fmt: skip
    else:
        note(f"wrote {len(res)} predictions to {out}")
    if res.metrics is not None:
        print_record("on the labelled rows", _metrics_view(res.metrics))
