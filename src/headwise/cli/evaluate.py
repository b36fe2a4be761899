"""`headwise eval` and `headwise predict`: apply a saved head to a table."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from ..exceptions import EncoderMismatchError, InputError
from ..heads import load_head
from ..heads._io import describe_encoder_key
from ._common import (
    BatchOpt,
    DataArg,
    JsonOpt,
    LabelColOpt,
    OnErrorOpt,
    SplitColOpt,
    TextColOpt,
    embed_texts,
    handle_errors,
    indices_for,
    load_data,
    print_json,
    print_table,
)

ModelOpt = Annotated[Path, typer.Option("--model", "-m", help="A head saved by `headwise fit`.")]
SplitOpt = Annotated[
    str | None, typer.Option("--split", help="Split to score (default: test if present, else all rows).")
]
EncoderOverride = Annotated[
    str | None, typer.Option("--encoder", "-e", help="Override the encoder recorded in the head file.")
]


def _load(model: Path, encoder: str | None, texts: list[str], batch_size: int) -> tuple[Any, np.ndarray]:
    head = load_head(model)
    spec = getattr(head, "encoder_spec_", None) or {}
    name = encoder or spec.get("spec")
    if not name:
        raise InputError(f"{model} does not record its encoder; pass --encoder.")
    options = spec.get("options", {}) if encoder is None or encoder == spec.get("spec") else {}
    emb = embed_texts(texts, name, options, batch_size=batch_size)
    if head.encoder_key_ is not None and head.encoder_key_ != emb.encoder_key:
        raise EncoderMismatchError(
            f"{model} was fitted on embeddings from {describe_encoder_key(head.encoder_key_)}, but "
            f"these come from {describe_encoder_key(emb.encoder_key)}. Refit the head or use "
            "the encoder it was fitted on."
        )
    return head, emb.X


def _encoder_name(model: Path, encoder: str | None) -> str:
    """The encoder a head file records (or the override): it decides how DATA is read."""
    if encoder:
        return encoder
    spec = getattr(load_head(model), "encoder_spec_", None) or {}
    return str(spec.get("spec") or "")


def _default_split(table: Any, split: str | None) -> str | None:
    if split is not None or table.splits is None:
        return split
    return "test" if table.split_indices("test").size else None


@handle_errors
def evaluate(
    data: DataArg,
    model: ModelOpt,
    split: SplitOpt = None,
    encoder: EncoderOverride = None,
    text_col: TextColOpt = None,
    label_col: LabelColOpt = None,
    split_col: SplitColOpt = None,
    batch_size: BatchOpt = 64,
    on_error: OnErrorOpt = "fail",
    as_json: JsonOpt = False,
) -> None:
    """Score a saved head on a labelled split: accuracy, macro-F1, per-class recall."""
    from sklearn.metrics import accuracy_score, f1_score

    table = load_data(
        data, _encoder_name(model, encoder), text_col=text_col, label_col=label_col,
        split_col=split_col, on_error=on_error, quiet=as_json,
    )  # fmt: skip
    assert table.labels is not None
    head, X = _load(model, encoder, table.texts, batch_size)
    idx = indices_for(table, _default_split(table, split))
    y = table.labels[idx]
    unseen = np.setdiff1d(np.unique(y), head.classes_)
    if unseen.size:
        raise InputError(
            f"{unseen.size} label(s) in {table.path.name} were never seen when the head was fitted "
            f"(e.g. {unseen[0]!r}); the head can only predict the classes it was fitted on."
        )
    pred = head.predict(X[idx])
    result = {
        "model": str(model),
        "split": _default_split(table, split) or "all",
        "n": int(idx.size),
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, average="macro")),
    }
    if as_json:
        print_json(result)
    else:
        print_table(f"{model.name} on {table.path.name}", list(result), [list(result.values())])


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@handle_errors
def predict(
    data: DataArg,
    model: ModelOpt,
    split: Annotated[str | None, typer.Option("--split", help="Only rows of this split.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write predictions (.jsonl or .csv).")] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="Also list the k most probable labels.")] = 1,
    encoder: EncoderOverride = None,
    text_col: TextColOpt = None,
    split_col: SplitColOpt = None,
    batch_size: BatchOpt = 64,
    on_error: OnErrorOpt = "fail",
    as_json: JsonOpt = False,
) -> None:
    """Predict labels (with probabilities) for every row of DATA; labels are optional."""
    table = load_data(
        data, _encoder_name(model, encoder), text_col=text_col, split_col=split_col,
        require_labels=False, on_error=on_error, quiet=as_json,
    )  # fmt: skip
    if top_k < 1:
        raise InputError(f"--top-k must be at least 1. Got {top_k} instead.")
    if out is not None and out.suffix.lower() not in (".jsonl", ".csv"):
        raise InputError(f"--out must end in .jsonl or .csv. Got {out.name} instead.")
    head, X = _load(model, encoder, table.texts, batch_size)
    idx = indices_for(table, split)
    proba = head.predict_proba(X[idx])
    k = min(top_k, proba.shape[1])
    order = np.argsort(-proba, axis=1)[:, :k]
    records: list[dict[str, Any]] = []
    for row, i in enumerate(idx):
        top = order[row]
        rec: dict[str, Any] = {
            "row": int(i),
            "text": getattr(table.texts[i], "source", table.texts[i]),  # media: the file
            "label": head.classes_[top[0]].item(),
            "probability": float(proba[row, top[0]]),
        }
        if k > 1:
            rec["top_k"] = [
                {"label": head.classes_[j].item(), "probability": float(proba[row, j])} for j in top
            ]
        records.append(rec)
    if out is not None:
        if out.suffix.lower() == ".jsonl":
            text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        else:
            import csv
            import io

            buf = io.StringIO()
            w = csv.writer(buf)
            w.writerow(["row", "text", "label", "probability"])
            for r in records:
                w.writerow([r["row"], r["text"], r["label"], f"{r['probability']:.6f}"])
            text = buf.getvalue()
        _atomic_write_text(out, text)
    if as_json:
        print_json(records)
    elif out is None:
        shown = records[:20]
        print_table(
            f"predictions ({len(records)} rows{', first 20' if len(records) > 20 else ''})",
            ["row", "label", "probability", "text"],
            [[r["row"], r["label"], r["probability"], r["text"][:60]] for r in shown],
        )
    else:
        typer.echo(f"wrote {len(records)} predictions to {out}")
