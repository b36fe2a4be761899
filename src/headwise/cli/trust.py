"""Trust pieces of the CLI: calibration inside `headwise fit`, and `headwise ood`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from ..exceptions import InputError
from ._common import (
    BatchOpt,
    DataArg,
    EncoderOpt,
    JsonOpt,
    LabelColOpt,
    PrecisionOpt,
    SplitColOpt,
    TextColOpt,
    embed_texts,
    encoder_options,
    handle_errors,
    indices_for,
    print_json,
    print_table,
)

CALIB_SEED = 0  # seeds the stratified calibration split carved out of train


def check_calib_frac(frac: float) -> None:
    if not 0.0 < frac < 1.0:
        raise InputError(
            f"--calib-frac must be a fraction in the open interval (0, 1) of the train rows to "
            f"hold out for calibration, e.g. 0.2. Got {frac} instead."
        )


def require_test_split(table: Any, what: str) -> None:
    if table.splits is None or table.split_indices("test").size == 0:
        raise InputError(f"{what} measures on the 'test' split, which {table.path.name} lacks.")


def split_for_calibration(y: np.ndarray, frac: float, seed: int = CALIB_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(fit, calibration)`` into ``y``, stratified; every class keeps a fit row."""
    from ..heads._holdout import stratified_holdout

    split = stratified_holdout(y, frac, random_state=seed)
    if split is None:
        raise InputError(
            "No row can be held out for calibration: every class has a single training row. "
            "Calibration needs labelled rows the head is not fitted on."
        )
    return split


def fit_calibration(head: Any, X_cal: np.ndarray, y_cal: np.ndarray, info: dict[str, Any]) -> Any:
    """Temperature on the calibration rows, plus the rows themselves for conformal sets."""
    from ..trust import TemperatureScaler, TrustCalibration

    codes = np.searchsorted(head.classes_, y_cal)
    ts = TemperatureScaler().fit(head.logits(X_cal), codes)
    u = np.random.default_rng([CALIB_SEED, 1]).random(y_cal.size)
    info = {**info, "nll_before": ts.nll_before_, "nll_after": ts.nll_after_}
    return TrustCalibration(ts.temperature_, X_cal, y_cal, u, info)


def _pick_out_classes(classes: np.ndarray, holdout: int, names: str | None, seed: int) -> np.ndarray:
    if names:
        wanted = np.array([c.strip() for c in names.split(",") if c.strip()])
        as_str = np.array([str(c) for c in classes])
        missing = np.setdiff1d(wanted, as_str)
        if missing.size:
            raise InputError(f"--out-classes names unknown label(s): {', '.join(missing[:5])}.")
        return classes[np.isin(as_str, wanted)]
    if not 1 <= holdout <= classes.size - 2:
        raise InputError(
            f"--holdout-classes must be between 1 and {classes.size - 2} (two classes must stay "
            f"known). Got {holdout} instead."
        )
    return np.sort(np.random.default_rng(seed).choice(classes, holdout, replace=False))


@handle_errors
def ood(
    data: DataArg,
    head: Annotated[str, typer.Option("--head", "-h", help="Head name; `headwise heads` lists them.")] = "lda",
    holdout_classes: Annotated[
        int, typer.Option("--holdout-classes", help="Hold out this many random classes as OOD.")
    ] = 5,
    out_classes: Annotated[
        str | None, typer.Option("--out-classes", help="Comma-separated labels to treat as OOD instead.")
    ] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Allowed false-alarm rate on known classes.")] = 0.1,
    calib_frac: Annotated[float, typer.Option("--calib-frac", help="Train fraction for calibration.")] = 0.2,
    seed: Annotated[int, typer.Option("--seed", help="Seeds the held-out classes.")] = 0,
    run_dir: Annotated[Path | None, typer.Option("--run-dir", help="Also write RUN/ood.json.")] = None,
    encoder: EncoderOpt = "minilm",
    text_col: TextColOpt = None,
    label_col: LabelColOpt = None,
    split_col: SplitColOpt = None,
    batch_size: BatchOpt = 64,
    precision: PrecisionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """OOD detection with held-out classes: AUROC and conformal-threshold rates per score."""
    from ..datasets import load_table
    from ..heads import get_head
    from ..trust import OOD_METHODS, OODDetector, check_alpha, ood_auroc

    check_alpha(alpha, "headwise ood")
    check_calib_frac(calib_frac)
    table = load_table(data, text_col=text_col, label_col=label_col, split_col=split_col)
    table.require_single_label()
    assert table.labels is not None
    require_test_split(table, "headwise ood")
    y = table.labels
    train, test = indices_for(table, "train"), indices_for(table, "test")
    out = _pick_out_classes(np.unique(y[train]), holdout_classes, out_classes, seed)
    emb = embed_texts(
        table.texts, encoder, encoder_options(None, None, None, precision), batch_size=batch_size
    )
    known_train = train[~np.isin(y[train], out)]
    fit_pos, cal_pos = split_for_calibration(y[known_train], calib_frac)
    h = get_head(head).fit(emb.X[known_train[fit_pos]], y[known_train[fit_pos]])
    X_cal = emb.X[known_train[cal_pos]]
    is_out = np.isin(y[test], out)
    X_in, X_out = emb.X[test[~is_out]], emb.X[test[is_out]]
    methods = [m for m in OOD_METHODS if m != "mahalanobis" or hasattr(h, "shrinkage_")]
    rows = []
    for m in methods:
        det = OODDetector(h, m).calibrate(X_cal)
        s_in, s_out = det.score(X_in), det.score(X_out)
        thr = det.threshold(alpha)
        rows.append(
            {
                "method": m,
                "auroc": ood_auroc(s_in, s_out),
                "false_alarm_rate": float(np.mean(s_in > thr)),
                "detection_rate": float(np.mean(s_out > thr)),
            }
        )
    result = {
        "protocol": "ood",
        "head": head,
        "alpha": alpha,
        "out_classes": [c.item() if hasattr(c, "item") else c for c in out],
        "n_in": int(X_in.shape[0]),
        "n_out": int(X_out.shape[0]),
        "n_calibration": int(X_cal.shape[0]),
        "methods": rows,
    }
    if run_dir is not None:
        from ..trust._summary import write_json

        write_json(Path(run_dir) / "ood.json", result)
    if as_json:
        print_json(result)
    else:
        print_table(
            f"OOD: {len(out)} held-out classes, {head} head, alpha={alpha}",
            ["method", "auroc", "false alarms", "detected"],
            [[r["method"], r["auroc"], r["false_alarm_rate"], r["detection_rate"]] for r in rows],
        )


def write_run(run_dir: Path, table: Any, X: np.ndarray, head: Any, cal: Any) -> Path:
    """Trust summary on the table's test split into ``RUN/trust.json`` + ``trust_arrays.npz``."""
    from ..trust import trust_summary, write_trust_run

    require_test_split(table, "--run-dir")
    test = table.split_indices("test")
    summary, arrays = trust_summary(head, cal, X[test], table.labels[test])
    return write_trust_run(run_dir, summary, arrays)


def check_predict_options(alpha: float | None, method: str, ood: str | None) -> None:
    """Fail before embedding anything when the trust options of `predict` are wrong."""
    from ..trust import METHODS, OOD_METHODS, check_alpha

    if alpha is not None:
        check_alpha(alpha, "headwise predict --alpha")
    if method not in METHODS:
        raise InputError(f"--method must be one of {', '.join(METHODS)}. Got {method!r} instead.")
    if ood is not None:
        if ood not in OOD_METHODS:
            raise InputError(f"--ood must be one of {', '.join(OOD_METHODS)}. Got {ood!r} instead.")
        if alpha is None:
            raise InputError("--ood flags rows at a false-alarm rate; give it with --alpha, e.g. 0.1.")


def predict_extras(
    model: Path,
    head: Any,
    X: np.ndarray,
    alpha: float | None,
    method: str,
    mondrian: bool,
    ood: str | None,
) -> dict[str, Any]:
    """Calibrated probabilities, prediction sets and OOD flags for `predict` (empty without
    --alpha). Values are per-row lists, plus ``"proba"`` (the temperature-scaled matrix)."""
    from ..trust import OODDetector, read_calibration

    if alpha is None:
        return {}
    cal = read_calibration(model, head)
    if cal is None:
        raise InputError(
            f"{model} holds no calibration, so it cannot give prediction sets. Refit it with "
            "`headwise fit ... --calibrate` (holds out --calib-frac of train, default 0.2)."
        )
    cp = cal.conformal(head, method=method, mondrian=mondrian)
    sets = cp.predict_set(X, alpha)
    proba = cp.predict_proba(X)
    order = np.argsort(-proba, axis=1, kind="stable")
    labels = head.classes_
    out: dict[str, Any] = {
        "proba": proba,  # most probable label first in every set
        "prediction_set": [[labels[j].item() for j in o if s[j]] for o, s in zip(order, sets, strict=True)],
    }
    if ood is not None:
        det = OODDetector(head, ood, temperature=cal.temperature).calibrate(cal.X_cal)
        flags = det.is_ood(X, alpha)
        pv = det.pvalues(X)
        out["ood"] = [bool(f) for f in flags]
        out["ood_pvalue"] = [float(p) for p in pv]
    return out
