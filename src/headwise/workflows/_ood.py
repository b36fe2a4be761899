"""OOD detection with held-out classes: the ``ood`` protocol of the evaluate registry."""

from __future__ import annotations

import numpy as np

from .._validation import check_int_range
from ..datasets import Table
from ..exceptions import InputError
from ._calibrate import check_calib_frac, split_for_calibration
from ._data import indices_for
from ._embed import embed_table
from ._evaluate import EvalRequest, EvalResult
from ._overlap import overlap_warnings

__all__ = ["ood_eval", "pick_out_classes"]


_HOLDOUT = 5  # classes held out at random by default (fewer where fewer than 7 classes)


def pick_out_classes(classes: np.ndarray, holdout: int | None, names: tuple[str, ...],
                     seed: int) -> np.ndarray:
    """The classes treated as out-of-distribution: ``names`` if given, else ``holdout`` at
    random (``None``: 5, or as many as leave two classes known)."""
    if names:
        wanted = np.array([c.strip() for c in names if c.strip()])
        as_str = np.array([str(c) for c in classes])
        missing = np.setdiff1d(wanted, as_str)
        if missing.size:
            raise InputError(f"--out-classes names unknown label(s): {', '.join(missing[:5])}.")
        return classes[np.isin(as_str, wanted)]
    if classes.size < 3:
        raise InputError(
            f"OOD with held-out classes needs at least 3 training classes (one held out, two "
            f"known); the train split has {classes.size}."
        )
    if holdout is None:
        holdout = min(_HOLDOUT, classes.size - 2)
    check_int_range(holdout, "--holdout-classes", 1, classes.size - 2, "(two classes must stay known)")
    return np.sort(np.random.default_rng(seed).choice(classes, holdout, replace=False))


def ood_eval(table: Table, req: EvalRequest) -> EvalResult:
    """Fit on the known classes' train rows, calibrate on held-out train rows, score on test."""
    from ..heads import get_head
    from ..trust import OOD_METHODS, OODDetector, check_alpha, ood_auroc

    check_alpha(req.alpha, "headwise ood")
    check_calib_frac(req.calib_frac)
    if table.splits is None or table.split_indices("test").size == 0:
        raise InputError(f"headwise ood measures on the 'test' split, which {table.path.name} lacks.")
    assert table.labels is not None
    y = table.labels
    train, test = indices_for(table, "train"), indices_for(table, "test")
    out = pick_out_classes(np.unique(y[train]), req.holdout_classes, req.out_classes, req.seed)
    is_out = np.isin(y[test], out)
    if not is_out.any() or is_out.all():
        which = "the held-out classes" if not is_out.any() else "the known classes"
        raise InputError(
            f"The test split of {table.path.name} has no rows of {which} "
            f"({', '.join(map(str, out.tolist()[:5]))} held out), so there is nothing to tell "
            "apart; hold out classes that have test rows, and keep some that do."
        )
    emb = embed_table(table, req.encoder, req.options, batch_size=req.batch_size, progress=req.progress)
    known_train = train[~np.isin(y[train], out)]
    fit_pos, cal_pos = split_for_calibration(y[known_train], req.calib_frac)
    head_name = req.heads or "lda"
    h = get_head(head_name).fit(emb.X[known_train[fit_pos]], y[known_train[fit_pos]])
    X_cal = emb.X[known_train[cal_pos]]
    X_in, X_out = emb.X[test[~is_out]], emb.X[test[is_out]]
    methods = [m for m in OOD_METHODS if m != "mahalanobis" or hasattr(h, "shrinkage_")]
    rows = []
    for m in methods:
        det = OODDetector(h, m).calibrate(X_cal)
        s_in, s_out = det.score(X_in), det.score(X_out)
        thr = det.threshold(req.alpha)
        rows.append({
            "method": m,
            "auroc": ood_auroc(s_in, s_out),
            "false_alarm_rate": float(np.mean(s_in > thr)),
            "detection_rate": float(np.mean(s_out > thr)),
        })  # fmt: skip
    payload = {
        "protocol": "ood",
        "dataset": table.path.name,
        "encoder": req.encoder,
        "head": head_name,
        "alpha": req.alpha,
        "out_classes": [c.item() if hasattr(c, "item") else c for c in out],
        "n_in": int(X_in.shape[0]),
        "n_out": int(X_out.shape[0]),
        "n_calibration": int(X_cal.shape[0]),
        "methods": rows,
    }
    title = f"OOD: {len(out)} held-out classes, {head_name} head, alpha={req.alpha}"
    cols = ("method", "AUROC", "false alarms", "detected")
    body = tuple((r["method"], r["auroc"], r["false_alarm_rate"], r["detection_rate"]) for r in rows)
    return EvalResult("ood", title, cols, body, payload,
                      warnings=overlap_warnings(table, train, test, payload, emb.X))  # fmt: skip
