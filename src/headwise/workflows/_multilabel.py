"""Multi-label workflow: fit a multi-label head (with conformal calibration), score it, predict sets.

The CLI's ``fit``/``eval``/``predict`` call these when a table's label column holds a list of
labels per row. Calibration rows travel inside the head file (``save_head`` extras), so
``predict --alpha`` can build label sets at any level later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._progress import working
from ..exceptions import InputError
from ..heads import get_head, is_multilabel_head, load_head_extras, random_holdout, save_head
from ..trust import MULTILABEL_METHODS, MultiLabelConformal, false_negative_rate, multilabel_metrics
from ._mlrun import MultiLabelFit, _plain

__all__ = [
    "DEFAULT_MULTILABEL_HEAD",
    "MultiLabelFit",
    "evaluate_multilabel",
    "fit_multilabel_table",
    "fit_multilabel",
    "load_multilabel_calibration",
    "predict_multilabel",
    "save_multilabel_head",
]

DEFAULT_MULTILABEL_HEAD = "mllogistic"
CALIB_SEED = 0
_EXTRA_KEY = "multilabel_calibration"


def _lists(labels: Any) -> list[list[Any]]:
    return [list(v) for v in labels]


def resolve_head_name(name: str) -> str:
    """``auto`` → the default multi-label head; a single-label head name is refused."""
    if name == "auto":
        return DEFAULT_MULTILABEL_HEAD
    if not is_multilabel_head(name):
        raise InputError(
            f"The label column holds a list of labels per row (multi-label data), but head "
            f"'{name}' predicts one label per row. Use --head mlridge, mllogistic or mlknn."
        )
    return name


def fit_multilabel(
    name: str,
    params: dict[str, Any],
    X: np.ndarray,
    labels: Any,
    *,
    calib_frac: float | None = None,
) -> MultiLabelFit:
    """Fit head ``name`` on rows ``X`` with label lists ``labels``; hold out ``calib_frac`` of
    the rows (seeded) for conformal calibration when given."""
    name = resolve_head_name(name)
    head = get_head(name, **params)
    lists = _lists(labels)
    if calib_frac is None:
        head.fit(X, lists)
        return MultiLabelFit(head, name, len(lists))
    split = random_holdout(len(lists), calib_frac, CALIB_SEED)
    if split is None:
        raise InputError(f"Too few rows ({len(lists)}) to hold out calibration rows.")
    fit_idx, cal_idx = split
    head.fit(X[fit_idx], [lists[i] for i in fit_idx])
    cal = MultiLabelConformal(head).calibrate(X[cal_idx], [_known(head, lists[i]) for i in cal_idx])
    return MultiLabelFit(head, name, int(fit_idx.size), cal.cal_logits_, cal.cal_targets_)


def _known(head: Any, labels: list[Any]) -> list[Any]:
    """Labels of a calibration row that the head knows (a label seen only there is dropped)."""
    return [v for v in labels if v in set(head.classes_.tolist())]


def save_multilabel_head(
    fit: MultiLabelFit, path: Path, encoder_key: dict[str, Any], alpha: float | None = None
) -> Path:
    """Save the head, with its calibration rows (and the α it was reported at) when it has them."""
    if fit.cal_logits is None:
        return save_head(fit.head, path, encoder_key=encoder_key)
    meta: dict[str, Any] = {"seed": CALIB_SEED, "n": int(fit.cal_logits.shape[0])}
    if alpha is not None:
        meta["alpha"] = float(alpha)
    return save_head(
        fit.head, path, encoder_key=encoder_key,
        extra_arrays={"ml_cal_logits": fit.cal_logits, "ml_cal_targets": fit.cal_targets},
        extra_meta={_EXTRA_KEY: meta},
    )  # fmt: skip


def load_multilabel_calibration(head: Any, path: Path, method: str) -> MultiLabelConformal:
    """The conformal calibration stored with a head by ``fit --calibrate``."""
    if method not in MULTILABEL_METHODS:
        raise InputError(
            f"--method for multi-label data must be one of {', '.join(MULTILABEL_METHODS)} "
            f"(crc: false-negative-rate control; lac: per-label coverage). Got {method!r}."
        )
    arrays, _ = load_head_extras(path)
    if "ml_cal_logits" not in arrays:
        raise InputError(
            f"{path} holds no conformal calibration; refit with `headwise fit --calibrate` to use --alpha."
        )
    return MultiLabelConformal.from_calibration(
        head, arrays["ml_cal_logits"], arrays["ml_cal_targets"], method
    )


def evaluate_multilabel(head: Any, X: np.ndarray, labels: Any) -> dict[str, Any]:
    """Metrics of ``head`` on rows ``X`` with label lists ``labels``, plus per-label F1."""
    Y = head._known_targets(_lists(labels), X.shape[0])
    z = head.logits(X)
    m = multilabel_metrics(Y, head.predict(X), scores=z)
    out = {k: v for k, v in m.as_dict().items() if not k.startswith("per_label")}
    out["per_label"] = [
        {"label": _plain(c), "f1": f, "precision": p, "recall": r, "support": s}
        for c, f, p, r, s in zip(head.classes_, m.per_label_f1, m.per_label_precision,
                                 m.per_label_recall, m.per_label_support, strict=True)
    ]  # fmt: skip
    return out


def predict_multilabel(
    head: Any, X: np.ndarray, *, conformal: MultiLabelConformal | None = None, alpha: float | None = None
) -> list[dict[str, Any]]:
    """Per row: predicted labels with probabilities, and the conformal label set when asked."""
    proba = head.predict_proba(X)
    P = head.predict(X)
    sets = conformal.predict_set(X, alpha) if conformal is not None and alpha is not None else None
    names = head.classes_.tolist()
    out = []
    for i in range(X.shape[0]):
        on = np.flatnonzero(P[i])
        rec: dict[str, Any] = {
            "labels": [names[j] for j in on],
            "probabilities": [float(proba[i, j]) for j in on],
        }
        if sets is not None:
            rec["label_set"] = [names[j] for j in np.flatnonzero(sets[i])]
        out.append(rec)
    return out


def set_fnr(conformal: MultiLabelConformal, X: np.ndarray, labels: Any, alpha: float) -> dict[str, float]:
    """False-negative rate and mean set size of the conformal sets on labelled rows."""
    Y = conformal.head._known_targets(_lists(labels), X.shape[0])
    sets = conformal.predict_set(X, alpha)
    return {"fnr": false_negative_rate(sets, Y), "mean_set_size": float(sets.sum(axis=1).mean())}


def fit_multilabel_table(
    table: Any,
    *,
    encoder: str,
    head: str,
    params: dict[str, Any],
    out: Path,
    train_split: str = "train",
    options: dict[str, Any] | None = None,
    batch_size: int = 64,
    dtype: str = "float32",
    calib_frac: float | None = None,
    alpha: float = 0.1,
    run_dir: str | Path | None = None,
) -> dict[str, Any]:
    """`fit` on a table whose label column holds a list of labels per row: embed through the
    cache, fit ``head`` on ``train_split`` (optionally holding out calibration rows), save it
    with the encoder key, and score the validation split when there is one. With ``run_dir``
    (calibration required) the test split's per-label scores and the label sets' empirical
    FNR and coverage at ``alpha`` go to ``RUN/multilabel.json`` for ``headwise report``."""
    import time

    from ..trust import check_alpha
    from ._data import indices_for
    from ._embed import embed_table
    from ._mlrun import multilabel_run_summary, write_multilabel_run

    check_alpha(alpha, "--alpha")
    if run_dir is not None:
        if calib_frac is None:
            raise InputError("--run-dir writes the label sets' coverage; add --calibrate.")
        if table.splits is None or table.split_indices("test").size == 0:
            raise InputError(f"--run-dir measures on the 'test' split, which {table.path.name} lacks.")
    emb = embed_table(table, encoder, options, batch_size=batch_size, dtype=dtype)
    idx = indices_for(table, train_split) if table.splits is not None else np.arange(len(table))
    t0 = time.perf_counter()
    with working(f"fitting {head} on {idx.size} rows"):
        fitted = fit_multilabel(head, params, emb.X[idx], table.labels[idx], calib_frac=calib_frac)
    fit_s = time.perf_counter() - t0
    fitted.head.encoder_spec_ = emb.encoder_spec
    # everything that can refuse the data (a validation or test label the head never saw) runs
    # before the head file is written: a refused fit left its --out behind
    val_idx = table.split_indices("validation") if table.splits is not None else np.array([])
    val = evaluate_multilabel(fitted.head, emb.X[val_idx], table.labels[val_idx]) if val_idx.size else None
    summary = None
    if run_dir is not None:
        test = table.split_indices("test")
        summary = multilabel_run_summary(fitted, emb.X[test], table.labels[test], alpha)
    save_multilabel_head(fitted, out, emb.encoder_key, alpha if calib_frac is not None else None)
    result: dict[str, Any] = {
        "head": fitted.name, "out": str(out), "n_train": fitted.n_train,
        "n_labels": int(len(fitted.head.classes_)), "multilabel": True, "fit_seconds": fit_s,
        "embed_seconds": emb.seconds, "cache_hit": emb.cached, "cache_entry": emb.entry,
    }  # fmt: skip
    if fitted.cal_logits is not None:
        result["n_calibration"] = int(fitted.cal_logits.shape[0])
    if val is not None:
        result["validation_micro_f1"], result["validation_macro_f1"] = val["micro_f1"], val["macro_f1"]
    if summary is not None:
        result["run_dir"] = str(write_multilabel_run(run_dir, summary).parent)
        crc = summary["sets"]["crc"]
        result[f"test_fnr_at_alpha_{alpha:g}"], result["test_mean_set_size"] = crc["fnr"], crc["mean_set_size"]
    return result
