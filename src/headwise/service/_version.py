"""One version of a served model: its head, conformal predictor and OOD detector, never mutated.

Calibration follows the trust design: calibration rows are never training rows. The conformal
predictor is rebuilt for every version, so the stored calibration rows are re-scored under the new
head (a new class changes every softmax normaliser); calibration rows of classes the head has no
training rows for wait until it does. No FastAPI here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..trust import ConformalClassifier, OODDetector, TrustCalibration
from ._journal import LoggedRow

__all__ = ["ModelState", "build_state"]


def _py(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


@dataclass
class ModelState:
    """A model at one version (never mutated after it is built, except its threshold cache)."""

    version: int
    head: Any
    temperature: float
    conformal: ConformalClassifier | None
    ood: OODDetector | None
    n_train: int  # logged training rows active at this version
    n_calibration: int  # calibration rows in use (base file + log)
    _cache: dict[float, tuple[np.ndarray, float]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def thresholds(self, alpha: float) -> tuple[np.ndarray, float] | None:
        """Conformal per-class thresholds and the OOD threshold at ``alpha`` (cached)."""
        if self.conformal is None or self.ood is None:
            return None
        with self._lock:
            found = self._cache.get(alpha)
            if found is None:
                found = (self.conformal.thresholds(alpha), self.ood.threshold(alpha))
                if len(self._cache) > 64:
                    self._cache.clear()
                self._cache[alpha] = found
            return found



def build_state(
    version: int,
    head: Any,
    active: dict[int, LoggedRow],
    base_cal: TrustCalibration | None,
    *,
    method: str,
    mondrian: bool,
    ood_method: str,
    temperature: float,
) -> ModelState:
    """The state for ``head``: conformal predictor and OOD detector on the base file's
    calibration rows plus the active logged calibration rows, for classes the head has rows of."""
    counts = getattr(getattr(head, "stats_", None), "counts", None)
    if counts is None:  # a head without statistics: every class has rows
        counts = np.ones(len(head.classes_))
    present = {_py(c) for c, k in zip(head.classes_, counts, strict=True) if k > 0}
    n_train = sum(1 for r in active.values() if r.role == "train")
    cal_rows = [r for _, r in sorted(active.items()) if r.role == "calibration"]
    cp = ood = None
    Xb = yb = ub = None
    if base_cal is not None:
        keep = np.array([_py(c) in present for c in base_cal.y_cal], dtype=bool)
        Xb, yb, ub = base_cal.X_cal[keep], base_cal.y_cal[keep], base_cal.u_cal[keep]
    rows = [r for r in cal_rows if r.label in present and r.x is not None]
    n_cal = (0 if yb is None else yb.size) + len(rows)
    if n_cal:
        cp = ConformalClassifier(head, method=method, mondrian=mondrian, temperature=temperature)
        Xl = np.array([r.x for r in rows]).reshape(len(rows), int(head.n_features_in_))
        yl = np.array([r.label for r in rows]) if rows else np.array([], dtype=head.classes_.dtype)
        # (the uniforms only matter for randomised APS/RAPS, which the service does not use)
        if yb is not None and yb.size:
            cp.calibrate(Xb, yb, u=ub)
            if rows:
                cp.partial_update(Xl, yl)  # the trust API's way to add calibration rows
        else:
            cp.calibrate(Xl, yl)
        ood = OODDetector(head, ood_method, temperature=temperature)
        ood.calibrate(cp.X_cal_)
    return ModelState(version, head, temperature, cp, ood, n_train, n_cal)

