"""A head saved together with its trust calibration: temperature plus conformal calibration rows.

The calibration travels inside the head's safetensors file (``extra.*`` tensors and an
``extra`` JSON header entry), so ``headwise predict --alpha`` needs nothing else. Files written
before this existed, or without ``--calibrate``, load as plain heads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InputError
from ._conformal import ConformalClassifier

__all__ = ["TrustCalibration", "load_calibrated_head", "read_calibration", "save_calibrated_head"]

TRUST_KIND = "headwise.trust"
TRUST_VERSION = 1


@dataclass
class TrustCalibration:
    temperature: float  # T fitted on the calibration rows (softmax(logits / T))
    X_cal: np.ndarray  # (n_cal, d) calibration embeddings (never training rows)
    y_cal: np.ndarray  # (n_cal,) labels of the calibration rows
    u_cal: np.ndarray  # (n_cal,) uniforms for randomised APS/RAPS
    info: dict[str, Any] = field(default_factory=dict)  # how it was made: fraction, seed, NLLs

    def conformal(self, head: Any, method: str = "lac", mondrian: bool = False) -> ConformalClassifier:
        """A :class:`ConformalClassifier` on ``head`` calibrated with these rows."""
        cp = ConformalClassifier(head, method=method, mondrian=mondrian, temperature=self.temperature)
        return cp.calibrate(self.X_cal, self.y_cal, u=self.u_cal)


def save_calibrated_head(
    head: Any,
    path: str | Path,
    calibration: TrustCalibration,
    *,
    encoder_key: dict[str, Any] | None = None,
) -> Path:
    from ..heads import save_head

    codes = np.searchsorted(head.classes_, calibration.y_cal).astype(np.int64)
    meta = {
        "kind": TRUST_KIND,
        "version": TRUST_VERSION,
        "temperature": float(calibration.temperature),
        "info": calibration.info,
    }
    arrays = {
        "cal_X": np.asarray(calibration.X_cal, dtype=np.float32),
        "cal_codes": codes,
        "cal_u": np.asarray(calibration.u_cal, dtype=np.float64),
    }
    return save_head(head, path, encoder_key=encoder_key, extra_arrays=arrays, extra_meta=meta)


def load_calibrated_head(path: str | Path) -> tuple[Any, TrustCalibration | None]:
    """The head and its calibration (``None`` when the file was saved without one)."""
    from ..heads import load_head

    head = load_head(path)
    return head, read_calibration(path, head)


def read_calibration(path: str | Path, head: Any) -> TrustCalibration | None:
    """The calibration saved with the head at ``path`` (already loaded as ``head``), or None."""
    from ..heads import load_head_extras

    arrays, meta = load_head_extras(path)
    if not meta or meta.get("kind") != TRUST_KIND:
        return None
    if int(meta.get("version", 0)) > TRUST_VERSION:
        raise InputError(
            f"{path} holds trust calibration version {meta['version']}; this headwise reads up "
            f"to {TRUST_VERSION}. Upgrade headwise."
        )
    cal = TrustCalibration(
        temperature=float(meta["temperature"]),
        X_cal=np.asarray(arrays["cal_X"], dtype=np.float64),
        y_cal=head.classes_[np.asarray(arrays["cal_codes"], dtype=np.intp)],
        u_cal=np.asarray(arrays["cal_u"], dtype=np.float64),
        info=dict(meta.get("info") or {}),
    )
    return cal
