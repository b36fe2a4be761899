"""Temperature scaling: one scalar ``T`` that divides the logits, fitted by minimising NLL."""

from __future__ import annotations

from numbers import Real
from typing import Any, Self

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from ..exceptions import InputError

__all__ = ["TemperatureScaler", "temperature_nll"]

_LOG_T_BOUNDS = (float(np.log(1e-3)), float(np.log(1e3)))


def _check_logits(logits: Any, y: Any | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] < 2:
        raise InputError(
            f"logits must have shape (n_samples, n_classes) with at least two classes; got {z.shape}."
        )
    if np.isnan(z).any() or np.isposinf(z).any():
        raise InputError("logits contain NaN or +inf; only -inf (a class without rows) is allowed.")
    dead = np.flatnonzero(np.isneginf(z).all(axis=1)) if z.size else np.empty(0, dtype=int)
    if dead.size:  # its probabilities would be 0/0 = NaN
        raise InputError(f"Row {int(dead[0])} of the logits is -inf for every class; no class "
                         "has a score there, so it has no probabilities.")  # fmt: skip
    if y is None:
        return z, None
    codes = np.asarray(y)
    if codes.shape != (z.shape[0],) or codes.dtype.kind not in "iu":
        raise InputError(
            f"y must be {z.shape[0]} integer class codes (column indices of the logits); "
            f"got shape {codes.shape}, dtype {codes.dtype}."
        )
    if codes.size == 0:
        raise InputError("Temperature scaling needs at least one calibration row; got none.")
    if codes.min() < 0 or codes.max() >= z.shape[1]:
        raise InputError(f"y holds codes outside [0, {z.shape[1]}).")
    if np.isneginf(z[np.arange(codes.size), codes]).any():
        raise InputError(
            "A calibration row's true class has logit -inf (a class the head has no rows for); "
            "fit the head on every class before calibrating."
        )
    return z, codes.astype(np.intp)


def temperature_nll(logits: np.ndarray, codes: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of ``softmax(logits / T)`` at the true classes."""
    lp = log_softmax(logits / temperature, axis=1)
    return float(-np.mean(lp[np.arange(codes.size), codes]))


class TemperatureScaler:
    """Fit ``T > 0`` so that ``softmax(logits / T)`` minimises NLL on a calibration split.

    NLL is convex in ``1/T``, so it has a single minimum along ``log T``; it is found by
    bounded Brent search (``scipy.optimize.minimize_scalar``) on ``log T`` in
    ``[log 1e-3, log 1e3]``, then checked against both bounds. Accuracy is unchanged (the argmax
    does not move); only the confidence does.

    Parameters
    ----------
    bounds : (float, float), default=(1e-3, 1e3)
        Range of ``T`` searched. A minimum at a bound (e.g. perfectly separated calibration
        rows, where NLL keeps falling as ``T → 0``) returns that bound.

    Attributes
    ----------
    temperature_ : float
    nll_before_ : float
        Calibration NLL at ``T = 1``.
    nll_after_ : float
        Calibration NLL at ``temperature_``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, 2000)
    >>> z = 3.0 * np.eye(3)[y] + rng.normal(size=(2000, 3))
    >>> t1 = TemperatureScaler().fit(z, y).temperature_
    >>> ts = TemperatureScaler().fit(5.0 * z, y)  # the same logits, five times too confident
    >>> round(ts.temperature_ / t1, 3), bool(ts.nll_after_ < ts.nll_before_)
    (5.0, True)
    """

    def __init__(self, bounds: tuple[float, float] = (1e-3, 1e3)) -> None:
        self.bounds = bounds

    def fit(self, logits: Any, y: Any) -> Self:
        """``logits`` (n, C) from ``head.logits``; ``y`` integer codes into their columns."""
        pair = self.bounds if isinstance(self.bounds, tuple | list) and len(self.bounds) == 2 else None
        lo, hi = pair if pair is not None else (None, None)
        if not (isinstance(lo, Real) and isinstance(hi, Real) and 0 < lo < hi < float("inf")):
            raise InputError(f"bounds must be two finite numbers 0 < low < high. Got {self.bounds!r}.")
        z, codes = _check_logits(logits, y)
        assert codes is not None
        z = z - np.max(z, axis=1, keepdims=True)  # shift invariance; keeps exp() in range

        def objective(log_t: float) -> float:
            return temperature_nll(z, codes, float(np.exp(log_t)))

        a, b = float(np.log(lo)), float(np.log(hi))
        res = minimize_scalar(objective, bounds=(a, b), method="bounded", options={"xatol": 1e-6})
        candidates = [(float(res.fun), float(res.x)), (objective(a), a), (objective(b), b)]
        best_nll, best_log_t = min(candidates)
        self.temperature_ = float(np.exp(best_log_t))
        self.nll_before_ = temperature_nll(z, codes, 1.0)
        self.nll_after_ = best_nll
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "temperature_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("This TemperatureScaler is not fitted yet; call fit first.")

    def transform(self, logits: Any) -> np.ndarray:
        """Scaled logits ``logits / T``."""
        self._check_fitted()
        z, _ = _check_logits(logits)
        return z / self.temperature_

    def predict_proba(self, logits: Any) -> np.ndarray:
        """Calibrated probabilities ``softmax(logits / T)``."""
        return softmax(self.transform(logits), axis=1)
