"""One call that measures a calibrated head on a labelled test split (for runs and reports)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import softmax

from ._conformal import set_coverage
from ._metrics import DEFAULT_BINS, calibration_metrics, reliability_bins
from ._saved import TrustCalibration

__all__ = ["ALPHA_GRID", "trust_summary", "write_json", "write_trust_run"]

ALPHA_GRID = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)
_VARIANTS = (("lac", False), ("aps", False), ("lac", True), ("aps", True))


def trust_summary(
    head: Any,
    calibration: TrustCalibration,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    alphas: tuple[float, ...] = ALPHA_GRID,
    n_bins: int = DEFAULT_BINS,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Calibration metrics before/after temperature scaling and conformal coverage per ``α``.

    Returns ``(summary, arrays)``: a JSON-able dict, and arrays (test codes, probabilities before
    and after scaling, set sizes at ``α = 0.1``) for plots. Test labels the head never saw are
    dropped and counted in ``summary["n_unseen_dropped"]``.
    """
    classes = np.asarray(head.classes_)
    y_test = np.asarray(y_test)
    known = np.isin(y_test, classes)
    X_test, y_test = X_test[known], y_test[known]
    codes = np.searchsorted(classes, y_test)
    logits = np.asarray(head.logits(X_test), dtype=np.float64)
    p0 = softmax(logits, axis=1)
    p1 = softmax(logits / calibration.temperature, axis=1)
    before = calibration_metrics(codes, p0, n_bins)
    after = calibration_metrics(codes, p1, n_bins)
    conformal: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {"y_test": codes, "proba_before": p0, "proba_after": p1}
    for method, mondrian in _VARIANTS:
        name = f"{method}{'_mondrian' if mondrian else ''}"
        cp = calibration.conformal(head, method=method, mondrian=mondrian)
        rows = []
        for alpha in alphas:
            sets = cp.predict_set(X_test, alpha)
            r = set_coverage(sets, codes)
            per_class = [float(sets[codes == k, k].mean()) for k in np.unique(codes)]
            rows.append({"alpha": alpha, **r, "min_class_coverage": float(min(per_class))})
            if abs(alpha - 0.1) < 1e-12:
                arrays[f"set_size_{name}_a0.1"] = sets.sum(axis=1)
        conformal[name] = rows
    rel = {
        which: {k: v.tolist() for k, v in reliability_bins(p.max(1), p.argmax(1) == codes, n_bins).items()}
        for which, p in (("before", p0), ("after", p1))
    }
    summary = {
        "protocol": "trust",
        "head": getattr(type(head), "_head_name", type(head).__name__),
        "n_test": int(codes.size),
        "n_unseen_dropped": int((~known).sum()),
        "n_calibration": int(calibration.y_cal.size),
        "temperature": calibration.temperature,
        "binning": before.binning,
        "metrics_before": before.to_dict(),
        "metrics_after": after.to_dict(),
        "reliability": rel,
        "conformal": conformal,
        "calibration_info": calibration.info,
        "classes": [c.item() if hasattr(c, "item") else c for c in classes],
    }
    return summary, arrays


def write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON through the one atomic writer (folder created)."""
    from .._atomic import write_json as _write

    return _write(path, obj, what="Trust result", make_parents=True)


def write_trust_run(run_dir: str | Path, summary: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    """Write ``RUN/trust.json`` and ``RUN/trust_arrays.npz`` (each via temp file and rename)."""
    from .._atomic import atomic_write, make_folder

    run = make_folder(run_dir)
    atomic_write(run / "trust_arrays.npz", lambda fh: np.savez_compressed(fh, **arrays), what="Trust arrays")
    return write_json(run / "trust.json", summary)
