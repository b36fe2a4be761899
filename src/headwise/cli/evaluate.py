"""`headwise eval` and `headwise predict`: apply a saved head to a table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from ..exceptions import EncoderMismatchError, InputError
from ._common import (
    BatchOpt,
    DataArg,
    DropUnlabeledOpt,
    EncodingOpt,
    JsonOpt,
    LabelColOpt,
    LayerOpt,
    MaxLenOpt,
    OnErrorOpt,
    PoolingOpt,
    PrecisionOpt,
    SplitColOpt,
    TextColOpt,
    embed_texts,
    encoder_options,
    handle_errors,
    indices_for,
    load_data,
    print_json,
    print_table,
)
from .multilabel import is_multilabel_run, predict_multilabel_rows, render_eval
from .protocols import (
    BudgetOpt,
    DropOpt,
    HeadsOpt,
    ImbalanceOpt,
    OutOpt,
    PresetOpt,
    ProtocolOpt,
    RoundsOpt,
    SeedsOpt,
    ShotsOpt,
    StartOpt,
    StrategiesOpt,
    TasksOpt,
    TransOpt,
    run_protocol,
)

ModelOpt = Annotated[Path, typer.Option("--model", "-m", help="A head saved by `headwise fit`.")]
EvalModelOpt = Annotated[
    Path | None, typer.Option("--model", "-m", help="A head saved by `headwise fit` (without --protocol).")
]
SplitOpt = Annotated[
    str | None, typer.Option("--split", help="Split to score (default: test if present, else all rows).")
]
EncoderOverride = Annotated[
    str | None, typer.Option("--encoder", "-e", help="Override the encoder recorded in the head file.")
]


def _load(model: Path, encoder: str | None, texts: list[str], batch_size: int) -> tuple[Any, np.ndarray]:
    from ..heads import load_head
    from ..heads._io import describe_encoder_key

    head = load_head(model)
    spec = getattr(head, "encoder_spec_", None) or {}
    name = encoder or spec.get("spec")
    if not name:
        raise InputError(f"{model} does not record its encoder; pass --encoder.")
    options = spec.get("options", {}) if encoder is None or encoder == spec.get("spec") else {}
    from ..encoders import get_encoder
    from ..heads._io import check_encoder_key

    check_encoder_key(model, head.encoder_key_, get_encoder(name, **options).key())  # before embedding
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
    from ..heads import load_head

    spec = getattr(load_head(model), "encoder_spec_", None) or {}
    return str(spec.get("spec") or "")


def _default_split(table: Any, split: str | None) -> str | None:
    if split is not None or table.splits is None:
        return split
    return "test" if table.split_indices("test").size else None


@handle_errors
def evaluate(
    data: DataArg,
    model: EvalModelOpt = None,
    split: SplitOpt = None,
    encoder: EncoderOverride = None,
    text_col: TextColOpt = None,
    label_col: LabelColOpt = None,
    split_col: SplitColOpt = None,
    batch_size: BatchOpt = 64,
    on_error: OnErrorOpt = "fail",
    as_json: JsonOpt = False,
    drop_unlabeled: DropUnlabeledOpt = False,
    encoding: EncodingOpt = "utf-8",
    protocol: ProtocolOpt = None,
    heads: HeadsOpt = None,
    shots: ShotsOpt = "1,2,4,8,16",
    seeds: SeedsOpt = 10,
    tasks: TasksOpt = 10,
    preset: PresetOpt = None,
    drop_overlap: DropOpt = False,
    transductive: TransOpt = False,
    strategies: StrategiesOpt = "random,entropy,coreset,pcoreset",
    rounds: RoundsOpt = 5,
    budget: BudgetOpt = None,
    start: StartOpt = 1,
    imbalance: ImbalanceOpt = None,
    out: OutOpt = None,
    layer: LayerOpt = None,
    pooling: PoolingOpt = None,
    max_length: MaxLenOpt = None,
    precision: PrecisionOpt = None,
) -> None:
    """Score a saved head (--model), or run an evaluation protocol (--protocol) on DATA."""
    from sklearn.metrics import accuracy_score, f1_score

    if protocol is not None or preset is not None or imbalance is not None:
        if model is not None:
            raise InputError("Pass either --model (score a saved head) or --protocol, not both.")
        run_protocol(
            data, protocol or ("longtail" if imbalance is not None else "fewshot"), heads=heads,
            shots=shots, seeds=seeds, tasks=tasks,
            preset=preset, drop_overlap=drop_overlap, transductive=transductive, out=out,
            encoder=encoder or "minilm", text_col=text_col, label_col=label_col,
            split_col=split_col, options=encoder_options(layer, pooling, max_length, precision),
            batch_size=batch_size, as_json=as_json, imbalance=imbalance,
            active={"strategies": strategies, "rounds": rounds, "budget": budget, "start": start},
        )
        return
    if model is None:
        raise InputError(
            "Nothing to evaluate: pass --model HEAD_FILE (a head saved by `headwise fit`) or "
            "--protocol linear|fewshot|incremental|transductive|zeroshot|active|longtail."
        )
    table = load_data(
        data, _encoder_name(model, encoder), text_col=text_col, label_col=label_col,
        split_col=split_col, on_error=on_error, quiet=as_json,
        drop_unlabeled=drop_unlabeled, encoding=encoding, multilabel=True,
    )  # fmt: skip
    assert table.labels is not None
    head, X = _load(model, encoder, table.texts, batch_size)
    idx = indices_for(table, _default_split(table, split))
    if is_multilabel_run(table, head):
        from ..multilabel import evaluate_multilabel

        ml = evaluate_multilabel(head, X[idx], table.labels[idx])
        info = {"model": str(model), "split": _default_split(table, split) or "all", "n": int(idx.size)}
        render_eval({**info, **ml}, model, table, as_json)
        return
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


def _short(v: Any) -> str:
    if isinstance(v, list):
        text = "{" + ", ".join(map(str, v[:5])) + (", …" if len(v) > 5 else "") + "}"
        return f"{text} ({len(v)})"
    return str(v)


def _atomic_write_text(path: Path, text: str) -> None:
    from .._atomic import atomic_write

    atomic_write(path, text, what="Predictions file")  # one-line OutputError on failure


@handle_errors
def predict(
    data: DataArg,
    model: ModelOpt,
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
    text_col: TextColOpt = None,
    split_col: SplitColOpt = None,
    batch_size: BatchOpt = 64,
    on_error: OnErrorOpt = "fail",
    as_json: JsonOpt = False,
    drop_unlabeled: DropUnlabeledOpt = False,
    encoding: EncodingOpt = "utf-8",
) -> None:
    """Predict labels (with probabilities) for every row of DATA; labels are optional."""
    table = load_data(
        data, _encoder_name(model, encoder), text_col=text_col, split_col=split_col,
        require_labels=False, on_error=on_error, quiet=as_json,
        drop_unlabeled=drop_unlabeled, encoding=encoding, multilabel=True,
    )  # fmt: skip
    if top_k < 1:
        raise InputError(f"--top-k must be at least 1. Got {top_k} instead.")
    if out is not None and out.suffix.lower() not in (".jsonl", ".csv"):
        raise InputError(f"--out must end in .jsonl or .csv. Got {out.name} instead.")
    from . import trust

    head, X = _load(model, encoder, table.texts, batch_size)
    idx = indices_for(table, split)
    if is_multilabel_run(table, head):
        predict_multilabel_rows(model, head, X[idx], idx, table, alpha, method, out, as_json)
        return
    method = method or "lac"
    trust.check_predict_options(alpha, method, ood)
    proba = head.predict_proba(X[idx])
    extras = trust.predict_extras(model, head, X[idx], alpha, method, mondrian, ood)
    if extras:
        proba = extras.pop("proba")
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
        for name, values in extras.items():
            rec[name] = values[row]
        records.append(rec)
    if out is not None:
        if out.suffix.lower() == ".jsonl":
            text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        else:
            import csv
            import io

            buf = io.StringIO()
            w = csv.writer(buf)
            sets = "prediction_set" in extras
            w.writerow(["row", "text", "label", "probability", *(["prediction_set"] if sets else [])])
            for r in records:
                cells = [r["row"], r["text"], r["label"], f"{r['probability']:.6f}"]
                w.writerow(cells + ([";".join(map(str, r["prediction_set"]))] if sets else []))
            text = buf.getvalue()
        _atomic_write_text(out, text)
    if as_json:
        print_json(records)
    elif out is None:
        shown = records[:20]
        cols = [c for c in ("prediction_set", "ood") if c in extras]
        print_table(
            f"predictions ({len(records)} rows{', first 20' if len(records) > 20 else ''})",
            ["row", "label", "probability", *cols, "text"],
            [
                [r["row"], r["label"], r["probability"], *[_short(r[c]) for c in cols], r["text"][:60]]
                for r in shown
            ],
        )
    else:
        typer.echo(f"wrote {len(records)} predictions to {out}")
