"""Multi-label branches of `headwise eval` and `headwise predict` (label lists per row)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import typer

from .._atomic import atomic_write
from ..exceptions import InputError
from ._render import print_json, print_record, print_table


def _short(v: Any) -> str:
    if isinstance(v, list):
        text = "{" + ", ".join(map(str, v[:5])) + (", …" if len(v) > 5 else "") + "}"
        return f"{text} ({len(v)})"
    return str(v)


def is_multilabel_run(table: Any, head: Any) -> bool:
    """Whether DATA and the head agree on multi-label targets; a mismatch is refused."""
    from ..heads import is_multilabel_head, name_of_head

    ml_head = is_multilabel_head(name_of_head(type(head)))
    ml_data = bool(getattr(table, "is_multilabel", False))
    if ml_data and not ml_head:
        raise InputError(
            "The label column holds a list of labels per row (multi-label data), but this head "
            "predicts one label per row; fit a multi-label head (--head mlridge|mllogistic|mlknn)."
        )
    return ml_head


def render_eval(result: dict[str, Any], model: Path, table: Any, as_json: bool) -> None:
    if as_json:
        print_json(result)
        return
    names = {"micro_f1": "micro-F1", "macro_f1": "macro-F1", "subset_accuracy": "subset accuracy",
             "hamming_loss": "Hamming loss", "mean_average_precision": "mAP"}  # fmt: skip
    top = {names.get(k, k.replace("_", " ")): v for k, v in result.items() if k not in ("per_label", "model")}
    kinds = {"Hamming loss": "plain"}
    print_record(f"{model.name} on {table.path.name}", top, kinds=kinds)
    rows = [[p["label"], p["f1"], p["precision"], p["recall"], p["support"]] for p in result["per_label"]]
    print_table("per-label F1", ["label", "f1", "precision", "recall", "support"], rows)


def predict_multilabel_rows(
    model: Path, head: Any, X: np.ndarray, idx: np.ndarray, table: Any, alpha: float | None,
    method: str | None, out: Path | None, as_json: bool,
) -> None:  # fmt: skip
    """`predict` with a multi-label head: label lists, and conformal label sets with --alpha
    (``--method crc`` controls the false-negative rate, ``lac`` covers each label)."""
    from ..trust import check_alpha
    from ..workflows import load_multilabel_calibration, predict_multilabel

    conformal = None
    if alpha is not None:
        check_alpha(alpha, "--alpha")
        conformal = load_multilabel_calibration(head, model, method or "crc")
    recs = predict_multilabel(head, X, conformal=conformal, alpha=alpha)
    records = [
        {"row": int(i), "text": getattr(table.texts[i], "source", table.texts[i]), **r}
        for i, r in zip(idx, recs, strict=True)
    ]
    if out is not None:
        if out.suffix.lower() != ".jsonl":
            raise InputError("Multi-label predictions are written as .jsonl (one label list per row).")
        atomic_write(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8"))
    if as_json:
        print_json(records)
    elif out is None:
        sets = "label_set" in records[0] if records else False
        print_table(
            f"predictions ({len(records)} rows{', first 20' if len(records) > 20 else ''})",
            ["row", "labels", *(["label_set"] if sets else []), "text"],
            [[r["row"], _short(r["labels"]), *([_short(r["label_set"])] if sets else []), r["text"][:60]]
             for r in records[:20]],
        )  # fmt: skip
    else:
        typer.echo(f"wrote {len(records)} predictions to {out}")


def render_fit(result: dict[str, Any], as_json: bool) -> None:
    """What `fit` prints for a multi-label head."""
    if as_json:
        print_json(result)
    else:
        shown = {k.replace("_", " "): v for k, v in result.items() if k not in ("head", "out", "cache_entry", "run_dir")}
        print_record(f"fitted {result['head']} → {result['out']}", shown)


def score_multilabel(
    model: Path, table: Any, *, split: str | None, encoder: str | None, batch_size: int, as_json: bool
) -> None:
    """`score` / `eval --model` on multi-label data: micro/macro-F1, mAP, subset accuracy,
    Hamming loss and per-label F1 of a multi-label head."""
    from ..workflows import default_split, evaluate_multilabel, indices_for, load_head_for

    head, X = load_head_for(model, table, encoder=encoder, batch_size=batch_size)
    is_multilabel_run(table, head)
    name = default_split(table, split)
    idx = indices_for(table, name)
    ml = evaluate_multilabel(head, X[idx], table.labels[idx])
    render_eval({"model": str(model), "split": name or "all", "n": int(idx.size), **ml}, model, table, as_json)


def predict_multilabel_table(
    model: Path, table: Any, *, split: str | None, encoder: str | None, batch_size: int,
    alpha: float | None, method: str | None, out: Path | None, as_json: bool,
) -> None:  # fmt: skip
    """`predict` with a multi-label head (label lists, and label sets with --alpha)."""
    from ..workflows import indices_for, load_head_for

    head, X = load_head_for(model, table, encoder=encoder, batch_size=batch_size)
    is_multilabel_run(table, head)
    idx = indices_for(table, split)
    predict_multilabel_rows(model, head, X[idx], idx, table, alpha, method, out, as_json)
