"""Calibration carved out of the train rows: temperature plus conformal calibration rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_open_fraction
from ..datasets import Table
from ..exceptions import InputError

__all__ = [
    "CALIB_SEED", "calibration_warnings", "check_calib_frac", "fit_calibration",
    "split_for_calibration", "write_trust_run_for",
]

CALIB_SEED = 0  # seeds the stratified calibration split carved out of train


def check_calib_frac(frac: float) -> None:
    """``frac`` must be a fraction in (0, 1) of the train rows held out for calibration."""
    check_open_fraction(frac, "--calib-frac", "of the train rows to hold out for calibration, e.g. 0.2")


def require_test_split(table: Table, what: str) -> None:
    if table.splits is None or table.split_indices("test").size == 0:
        raise InputError(f"{what} measures on the 'test' split, which {table.path.name} lacks.")


def split_for_calibration(
    y: np.ndarray, frac: float, seed: int = CALIB_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(fit, calibration)`` into ``y``, stratified; every class keeps a fit row."""
    from ..splits import stratified_holdout

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


def calibration_warnings(temperature: float, n_rows: int, alpha: float,
                         bounds: tuple[float, float] | None = None) -> list[str]:
    """What a calibration too thin to trust looks like, in words (empty when it looks sound).

    A temperature at an end of its search means the held-out rows did not pin it down
    (a handful of rows, or rows all classified right with a margin, drive ``T → 0``; all wrong,
    ``T → ∞``); ``bounds`` defaults to :class:`~headwise.trust.TemperatureScaler`'s. Split-conformal sets at miscoverage ``alpha`` need ``n ≥ (1 - α) / α``
    calibration rows (9 at α = 0.1): with fewer, the score quantile is infinite and every set
    holds every class.

    >>> calibration_warnings(1.3, 200, 0.1)
    []
    >>> [w.split(":")[0] for w in calibration_warnings(1e-3, 4, 0.1)]
    ['the temperature stopped at the end of its search (0.001)', '4 calibration rows']
    """
    from ..trust import TemperatureScaler

    out = []
    lo, hi = TemperatureScaler().bounds if bounds is None else bounds  # the search fit_calibration ran
    if temperature <= lo * (1 + 1e-6) or temperature >= hi * (1 - 1e-6):
        out.append(
            f"the temperature stopped at the end of its search ({temperature:g}): the "
            f"{n_rows} held-out calibration rows do not pin it down, so the probabilities are "
            "not calibrated. Add training rows or raise --calib-frac."
        )
    need = int(np.ceil((1 - alpha) / alpha - 1e-9))
    if n_rows < need:
        out.append(
            f"{n_rows} calibration rows: conformal sets at α={alpha:g} need at least {need}, so "
            "every set holds every class. Add training rows, raise --calib-frac, or use a "
            "larger --alpha."
        )
    return out


def write_trust_run_for(run_dir: str | Path, table: Table, X: np.ndarray, head: Any, cal: Any) -> Path:
    """Trust summary on the table's test split into ``RUN/trust.json`` + ``trust_arrays.npz``."""
    from ..trust import trust_summary, write_trust_run

    require_test_split(table, "--run-dir")
    test = table.split_indices("test")
    assert table.labels is not None
    summary, arrays = trust_summary(head, cal, X[test], table.labels[test])
    return write_trust_run(run_dir, summary, arrays)
