"""Apply a saved head to a table: predictions with probabilities, sets and OOD flags; scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_choice, check_int_range, shown
from ..datasets import Table
from ..exceptions import EncoderMismatchError, InputError
from ._data import default_split, indices_for
from ._embed import embed_table
from ._overlap import check_overlap

__all__ = [
    "PredictResult",
    "ScoreResult",
    "check_predict_options",
    "head_encoder",
    "load_head_for",
    "predict_table",
    "score_head",
]


def head_encoder(model: str | Path, encoder: str | None = None) -> str:
    """The encoder a head file records (or the override): it decides how the data is read."""
    if encoder:
        return encoder
    from ..heads import load_head

    spec = getattr(load_head(model), "encoder_spec_", None) or {}
    return str(spec.get("spec") or "")


def load_head_for(
    model: str | Path, table: Table, *, encoder: str | None = None, batch_size: int = 64,
    progress: bool | None = None,
) -> tuple[Any, np.ndarray]:
    """The head saved at ``model`` and the embeddings of ``table`` made by the head's encoder.

    Refuses embeddings from another encoder than the head was fitted on.
    """
    from ..encoders import get_encoder
    from ..heads import check_encoder_key, describe_encoder_key, load_head

    head = load_head(model)
    spec = getattr(head, "encoder_spec_", None) or {}
    name = encoder or spec.get("spec")
    if not name:
        raise InputError(f"{model} does not record its encoder; pass --encoder.")
    options = spec.get("options", {}) if encoder is None or encoder == spec.get("spec") else {}
    check_encoder_key(model, head.encoder_key_, get_encoder(name, **options).key())  # before embedding
    emb = embed_table(table, name, options, batch_size=batch_size, progress=progress)
    if head.encoder_key_ is not None and head.encoder_key_ != emb.encoder_key:
        raise EncoderMismatchError(
            f"{model} was fitted on embeddings from {describe_encoder_key(head.encoder_key_)}, but "
            f"these come from {describe_encoder_key(emb.encoder_key)}. Refit the head or use "
            "the encoder it was fitted on."
        )
    return head, emb.X


def _check_known(head: Any, y: np.ndarray, table: Table) -> None:
    unseen = np.setdiff1d(np.unique(y), head.classes_)
    if unseen.size:
        raise InputError(
            f"{unseen.size} label(s) in {table.path.name} were never seen when the head was fitted "
            f"(e.g. {shown(unseen[0])!r}); the head can only predict the classes it was fitted on."
        )


@dataclass(frozen=True)
class ScoreResult:
    """A saved head scored on one split of a labelled table."""

    model: str
    split: str  # the split scored, or "all"
    n: int
    accuracy: float
    macro_f1: float
    n_overlap: int = 0  # scored rows that also occur in the train split
    overlap_dropped: bool = False  # True when those rows were left out of the score

    @property
    def overlap_warning(self) -> str | None:
        """One line about scored rows that also occur in train (None when there are none)."""
        if not self.n_overlap:
            return None
        if self.overlap_dropped:
            return f"left out {self.n_overlap} scored rows that also occur in train"
        return (f"{self.n_overlap} of {self.n} scored rows also occur in train, so the score is "
                "optimistic; --drop-overlap leaves them out")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "split": self.split, "n": self.n,
                "accuracy": self.accuracy, "macro_f1": self.macro_f1,
                "n_overlap": self.n_overlap, "overlap_dropped": self.overlap_dropped}  # fmt: skip


def score_head(
    model: str | Path, table: Table, *, split: str | None = None, encoder: str | None = None,
    batch_size: int = 64, drop_overlap: bool = False, progress: bool | None = None,
) -> ScoreResult:
    """Accuracy and macro-F1 of the head at ``model`` on ``split`` (default: test, else all rows).

    Scored rows that also occur in the table's train split are counted (``n_overlap``) and, with
    ``drop_overlap``, left out of the score.
    """
    from sklearn.metrics import accuracy_score, f1_score

    if table.labels is None:
        raise InputError(f"{table.path.name} has no labels to score against.")
    head, X = load_head_for(model, table, encoder=encoder, batch_size=batch_size, progress=progress)
    chosen = default_split(table, split)
    idx = indices_for(table, chosen)
    n_overlap, dropped = 0, False
    if table.splits is not None and chosen not in ("train", None):
        ov = check_overlap(table, table.split_indices("train"), idx, X, drop=drop_overlap)
        n_overlap, dropped, idx = ov.n_overlap, ov.dropped, idx[ov.keep]
    if idx.size == 0:
        raise InputError("No rows left to score once the rows that also occur in train are left out.")
    y = table.labels[idx]
    _check_known(head, y, table)
    pred = head.predict(X[idx])
    return ScoreResult(
        model=str(model), split=chosen or "all", n=int(idx.size),
        accuracy=float(accuracy_score(y, pred)), macro_f1=float(f1_score(y, pred, average="macro")),
        n_overlap=n_overlap, overlap_dropped=dropped,
    )  # fmt: skip


def check_predict_options(alpha: float | None, method: str, ood: str | None, top_k: int = 1) -> None:
    """Fail before embedding anything when the trust options of a prediction are wrong."""
    from ..trust import METHODS, OOD_METHODS, check_alpha

    check_int_range(top_k, "--top-k", 1)
    if alpha is not None:
        check_alpha(alpha, "headwise predict --alpha")
    check_choice(method, "--method", METHODS)
    if ood is not None:
        check_choice(ood, "--ood", OOD_METHODS)
        if alpha is None:
            raise InputError("--ood flags rows at a false-alarm rate; give it with --alpha, e.g. 0.1.")


@dataclass(frozen=True)
class PredictResult:
    """Predictions for rows of a table; ``metrics`` is filled whenever the rows have labels."""

    records: list[dict[str, Any]] = field(repr=False)  # one per row: row, text, label, probability, ...
    columns: tuple[str, ...]  # extra per-row fields present: prediction_set, ood, ood_pvalue, top_k
    metrics: dict[str, Any] | None  # accuracy, macro_f1 (+ coverage, mean_set_size at alpha)

    def __len__(self) -> int:
        return len(self.records)


def _sets_and_ood(
    model: str | Path, head: Any, X: np.ndarray, alpha: float, method: str, mondrian: bool,
    ood: str | None,
) -> tuple[np.ndarray, np.ndarray, dict[str, list[Any]]]:
    """Temperature-scaled probabilities, prediction sets (boolean matrix) and OOD fields."""
    from ..trust import OODDetector, read_calibration

    cal = read_calibration(model, head)
    if cal is None:
        raise InputError(
            f"{model} holds no calibration, so it cannot give prediction sets. Refit it with "
            "`headwise fit ... --calibrate` (holds out --calib-frac of train, default 0.2)."
        )
    cp = cal.conformal(head, method=method, mondrian=mondrian)
    sets = cp.predict_set(X, alpha)
    proba = cp.predict_proba(X)
    extra: dict[str, list[Any]] = {}
    if ood is not None:
        det = OODDetector(head, ood, temperature=cal.temperature).calibrate(cal.X_cal)
        extra["ood"] = [bool(f) for f in det.is_ood(X, alpha)]
        extra["ood_pvalue"] = [float(p) for p in det.pvalues(X)]
    return proba, sets, extra


def _numeric(a: np.ndarray) -> bool:
    return a.dtype.kind in "biuf"


def predict_table(
    model: str | Path,
    table: Table,
    *,
    split: str | None = None,
    top_k: int = 1,
    alpha: float | None = None,
    method: str = "lac",
    mondrian: bool = False,
    ood: str | None = None,
    encoder: str | None = None,
    batch_size: int = 64,
    progress: bool | None = None,
) -> PredictResult:
    """Labels and probabilities for every row of ``table`` (or of ``split``).

    With ``alpha`` (the head must have been fitted with ``calibrate=True``) probabilities are
    temperature-scaled and each row gets a conformal prediction set (most probable label
    first); with ``ood`` also a flag and a p-value saying the row fits none of the classes.
    When the rows have labels, ``metrics`` holds accuracy and macro-F1, and with ``alpha`` the
    empirical coverage and mean set size.
    """
    from sklearn.metrics import f1_score

    from ..trust import set_coverage

    check_predict_options(alpha, method, ood, top_k)
    head, X = load_head_for(model, table, encoder=encoder, batch_size=batch_size, progress=progress)
    idx = indices_for(table, split)
    Xs = X[idx]
    sets = None
    extra: dict[str, list[Any]] = {}
    if alpha is None:
        proba = head.predict_proba(Xs)
    else:
        proba, sets, extra = _sets_and_ood(model, head, Xs, alpha, method, mondrian, ood)
    classes = head.classes_
    order = np.argsort(-proba, axis=1, kind="stable")
    k = min(top_k, proba.shape[1])
    records: list[dict[str, Any]] = []
    for row, i in enumerate(idx):
        top = order[row]
        rec: dict[str, Any] = {
            "row": int(i),
            "text": getattr(table.texts[i], "source", table.texts[i]),  # media: the file
            "label": classes[top[0]].item(),
            "probability": float(proba[row, top[0]]),
        }
        if k > 1:
            rec["top_k"] = [{"label": classes[j].item(), "probability": float(proba[row, j])} for j in top[:k]]
        if sets is not None:
            rec["prediction_set"] = [classes[j].item() for j in top if sets[row, j]]
        for name, values in extra.items():
            rec[name] = values[row]
        records.append(rec)
    columns = tuple(c for c in ("top_k", "prediction_set", "ood", "ood_pvalue") if records and c in records[0])
    metrics = None
    if table.labels is not None and idx.size:
        y = table.labels[idx]
        pred = classes[order[:, 0]]
        if _numeric(y) != _numeric(classes):
            # labels and classes of different types are compared as text: "1" from one file is
            # the class 1 of a head fitted on another (the accuracy counted them as equal while
            # every row was reported as an unseen label); "cat" against 0/1 matches none
            column = {str(c): j for j, c in enumerate(classes.tolist())}
            y, pred = y.astype(str), pred.astype(str)
            known = np.isin(y, list(column))
            codes = np.asarray([column[v] for v in y[known].tolist()], dtype=np.intp)
        else:
            known = np.isin(y, classes)
            codes = np.searchsorted(classes, y[known])
        metrics = {"n": int(idx.size), "accuracy": float(np.mean(pred == y)),
                   "macro_f1": float(f1_score(y, pred, average="macro")),
                   "unseen_labels": int((~known).sum())}  # fmt: skip
        if sets is not None and known.any():
            cov = set_coverage(sets[known], codes)
            metrics.update(alpha=alpha, coverage=cov["coverage"], mean_set_size=cov["mean_size"])
    return PredictResult(records=records, columns=columns, metrics=metrics)
