"""Split conformal prediction sets around any fitted head, valid after class-incremental updates."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Self

import numpy as np
from scipy.special import softmax

from .._validation import (
    check_embeddings,
    check_labels,
    check_param_choice,
    check_param_float,
    check_param_int,
    shown,
)
from ..exceptions import InputError
from ._scores import METHODS, check_alpha, conformal_quantile, nonconformity_scores

__all__ = ["ConformalClassifier", "head_digest", "set_coverage"]


def head_digest(head: Any) -> str | None:
    """Digest of a head's fitted state (``None`` when it cannot be taken: always recompute)."""
    get_state = getattr(head, "_get_state", None)
    if get_state is None:
        return None
    arrays, meta = get_state()
    h = hashlib.blake2b(digest_size=16)
    h.update(json.dumps(meta, sort_keys=True, default=str).encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode() + str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def set_coverage(sets: np.ndarray, codes: Any) -> dict[str, float]:
    """Coverage (true class in the set), mean and median set size, and the empty-set rate."""
    codes = np.asarray(codes, dtype=np.intp)
    hit = sets[np.arange(codes.size), codes]
    size = sets.sum(axis=1)
    return {
        "coverage": float(hit.mean()),
        "mean_size": float(size.mean()),
        "median_size": float(np.median(size)),
        "empty_rate": float(np.mean(size == 0)),
    }


class ConformalClassifier:
    """Split conformal prediction sets for any headwise (or sklearn ``predict_proba``) head.

    ``calibrate(X_cal, y_cal)`` scores held-out labelled rows; ``predict_set(X, alpha)`` returns a
    boolean ``(n, n_classes)`` matrix whose rows contain the true class with probability at least
    ``1 - alpha`` (marginally, or per class with ``mondrian=True``), for calibration and test
    rows drawn exchangeably. The threshold is the ``⌈(n+1)(1-α)⌉``-th smallest calibration
    score (``+inf``, i.e. every class, if ``n`` is too small for that ``α``).

    Parameters
    ----------
    head : estimator
        A head with ``logits`` (or ``predict_proba``) and ``classes_``; fitted by :meth:`fit`
        or beforehand.
    method : {"lac", "aps", "raps"}, default="lac"
        Score: ``1 - p_y`` (smallest sets), adaptive prediction sets, or regularised APS.
    mondrian : bool, default=False
        Class-conditional (Mondrian) thresholds: one quantile per true class, computed from
        that class's calibration rows only; coverage then holds within every class. A class
        with too few calibration rows for ``alpha`` (fewer than ``1/alpha - 1``, or none) gets
        an infinite threshold: it is in every set (valid, but uninformative).
    temperature : float > 0, default=1.0
        Probabilities are ``softmax(logits / temperature)`` (see :class:`TemperatureScaler`).
        Validity needs it fixed before the calibration scores are taken; fitting it on the same
        calibration rows re-uses them for one scalar, a small and unaccounted-for dependence.
    randomized : bool, default=False
        Randomised APS/RAPS (one uniform per row, from ``random_state``): exact ``1 - α``
        on average instead of at least ``1 - α``, at the price of random sets.
    lam, k_reg : float, int
        RAPS penalty ``lam · max(0, rank - k_reg)``.
    random_state : int, default=0

    Attributes
    ----------
    X_cal_, y_cal_ : ndarray
        The calibration embeddings and labels (calibration rows only, never training rows).

    Notes
    -----
    **Updates.** After the head learns new classes (``partial_fit`` here or on the head itself),
    :meth:`partial_update` adds calibration rows for them. The scores are softmax-based, so a new
    class changes every row's normaliser (and LDA's pooled covariance moves every logit): the
    stored calibration rows are re-scored whenever the head's fitted state changes (detected by
    a digest of that state), and their logits are reused only while it is unchanged. Only the
    calibration embeddings are kept for this, never training data.

    Examples
    --------
    >>> from headwise.heads import LDAHead
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 200)
    >>> X = 2.0 * np.eye(3)[y] + rng.normal(size=(600, 3))
    >>> cp = ConformalClassifier(LDAHead()).fit(X[::2], y[::2]).calibrate(X[1::2], y[1::2])
    >>> cp.predict_set(X[:4], alpha=0.1).shape
    (4, 3)
    """

    def __init__(
        self,
        head: Any,
        method: str = "lac",
        mondrian: bool = False,
        temperature: float = 1.0,
        randomized: bool = False,
        lam: float = 0.01,
        k_reg: int = 1,
        random_state: int = 0,
    ) -> None:
        self.head = head
        self.method = method
        self.mondrian = mondrian
        self.temperature = temperature
        self.randomized = randomized
        self.lam = lam
        self.k_reg = k_reg
        self.random_state = random_state

    # ---------------------------------------------------------------- checks
    def _check_params(self) -> None:
        check_param_choice(self.method, "method", "ConformalClassifier", METHODS)
        check_param_float(self.temperature, "temperature", "ConformalClassifier", 0.0, low_open=True)
        # NaN here made every score NaN: every set came back empty, with no error
        check_param_float(self.lam, "lam", "ConformalClassifier", 0.0)
        check_param_int(self.k_reg, "k_reg", "ConformalClassifier", low=0)
        check_param_int(self.random_state, "random_state", "ConformalClassifier", low=0)
        if self.randomized and self.method == "lac":
            raise InputError("randomized=True applies to method 'aps' or 'raps', not 'lac'.")

    def _check_calibrated(self) -> None:
        if not hasattr(self, "y_cal_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(
                "This ConformalClassifier is not calibrated yet; call calibrate(X_cal, y_cal) "
                "on labelled rows the head was not fitted on."
            )

    def _codes(self, y: np.ndarray) -> np.ndarray:
        classes = self.head.classes_
        idx = np.searchsorted(classes, y)
        idx = np.clip(idx, 0, len(classes) - 1)
        bad = classes[idx] != y
        if bad.any():
            raise InputError(
                f"{int(bad.sum())} calibration label(s) are not classes of the head "
                f"(e.g. {shown(y[bad][0])!r}); fit the head on every class before calibrating it."
            )
        return idx

    # ---------------------------------------------------------------- head outputs
    def _logits(self, X: np.ndarray) -> np.ndarray:
        if hasattr(self.head, "logits"):
            return np.asarray(self.head.logits(X), dtype=np.float64)
        with np.errstate(divide="ignore"):
            return np.log(np.asarray(self.head.predict_proba(X), dtype=np.float64))

    def predict_proba(self, X: Any) -> np.ndarray:
        """``softmax(logits / temperature)``."""
        self._check_params()
        return softmax(self._logits(X) / float(self.temperature), axis=1)

    def _scores(self, logits: np.ndarray, u: np.ndarray | None) -> np.ndarray:
        proba = softmax(logits / float(self.temperature), axis=1)
        return nonconformity_scores(
            proba, self.method, u=u if self.randomized else None, lam=self.lam, k_reg=self.k_reg
        )

    # ---------------------------------------------------------------- fitting
    def fit(self, X: Any, y: Any) -> Self:
        """Fit the head on training rows (not the calibration rows)."""
        self.head.fit(X, y)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> Self:
        """Forward new training rows (possibly of new classes) to ``head.partial_fit``."""
        if not hasattr(self.head, "partial_fit"):
            raise InputError(f"{type(self.head).__name__} has no partial_fit; refit it instead.")
        self.head.partial_fit(X, y, classes=classes)
        return self

    def calibrate(self, X_cal: Any, y_cal: Any, *, u: Any | None = None) -> Self:
        """Score labelled calibration rows, replacing any earlier ones.

        ``u`` (one uniform per row) fixes the randomisation of randomised APS/RAPS; by default
        it is drawn from ``random_state``.
        """
        self._check_params()
        if not hasattr(self.head, "classes_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(
                f"{type(self.head).__name__} is not fitted; fit it (or call fit here) before "
                "calibrating."
            )
        X = check_embeddings(X_cal, name="X_cal")
        y = check_labels(y_cal, n_rows=X.shape[0], min_classes=1)
        self._codes(y)
        self.X_cal_ = X
        self.y_cal_ = y
        self.u_cal_ = self._draw_u(X.shape[0], u, salt=0)
        self._logits_cache: tuple[str | None, np.ndarray] | None = None
        return self

    def partial_update(self, X_cal_new: Any, y_cal_new: Any, *, u: Any | None = None) -> Self:
        """Add calibration rows (typically of classes the head has just learned)."""
        self._check_calibrated()
        X = check_embeddings(X_cal_new, name="X_cal_new")
        y = check_labels(y_cal_new, n_rows=X.shape[0], min_classes=1)
        self._codes(y)
        n_old = self.y_cal_.shape[0]
        new_u = self._draw_u(X.shape[0], u, salt=n_old)
        cache = getattr(self, "_logits_cache", None)
        self.X_cal_ = np.concatenate([self.X_cal_, X.astype(self.X_cal_.dtype, copy=False)])
        self.y_cal_ = np.concatenate([self.y_cal_, y])
        self.u_cal_ = np.concatenate([self.u_cal_, new_u])
        if cache is not None and cache[0] is not None and cache[0] == head_digest(self.head):
            self._logits_cache = (cache[0], np.concatenate([cache[1], self._logits(X)]))
        else:
            self._logits_cache = None
        return self

    def _draw_u(self, n: int, u: Any | None, salt: int) -> np.ndarray:
        if u is not None:
            arr = np.asarray(u, dtype=np.float64).ravel()
            if arr.shape != (n,) or not ((arr >= 0) & (arr <= 1)).all():  # NaN fails too
                raise InputError(f"u must be {n} numbers in [0, 1], one per calibration row.")
            return arr
        return np.random.default_rng([int(self.random_state), 1, salt]).random(n)

    def calibration_logits(self) -> np.ndarray:
        """Logits of the stored calibration rows under the head as it is now (cached)."""
        self._check_calibrated()
        digest = head_digest(self.head)
        cache = getattr(self, "_logits_cache", None)
        if cache is None or digest is None or cache[0] != digest:
            cache = (digest, self._logits(self.X_cal_))
            self._logits_cache = cache
        return cache[1]

    def calibration_scores(self) -> np.ndarray:
        """Score of each calibration row at its true class, under the current head."""
        codes = self._codes(self.y_cal_)
        s = self._scores(self.calibration_logits(), self.u_cal_)
        return s[np.arange(codes.size), codes]

    # ---------------------------------------------------------------- prediction
    def thresholds(self, alpha: float) -> np.ndarray:
        """Per-class score thresholds, shape ``(n_classes,)`` (all equal unless Mondrian)."""
        self._check_params()
        alpha = check_alpha(alpha)
        scores = self.calibration_scores()
        n_classes = len(self.head.classes_)
        if not self.mondrian:
            return np.full(n_classes, conformal_quantile(scores, alpha))
        codes = self._codes(self.y_cal_)
        return np.array([conformal_quantile(scores[codes == k], alpha) for k in range(n_classes)])

    def predict_set(self, X: Any, alpha: float) -> np.ndarray:
        """Boolean matrix ``(n, n_classes)``: column ``k`` is True when class ``classes_[k]`` is
        in the row's prediction set at miscoverage ``alpha``."""
        self._check_calibrated()
        q = self.thresholds(alpha)
        logits = self._logits(X)
        u = None
        if self.randomized:
            u = np.random.default_rng([int(self.random_state), 2]).random(logits.shape[0])
        return self._scores(logits, u) <= q[None, :]

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.head.classes_)
