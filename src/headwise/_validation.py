"""Input checks with one place for message wording."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .exceptions import InputError

__all__ = [
    "check_choice",
    "check_embeddings",
    "check_int_range",
    "check_one_label_type",
    "check_labels",
    "check_n_features",
    "check_on_scale",
    "check_row_range",
    "check_open_fraction",
    "check_param_choice",
    "check_param_float",
    "check_param_int",
    "check_texts",
    "check_unicode",
    "check_fit_inputs",
    "extreme_scale",
    "fits_int64",
    "has_visible_char",
    "label_kind",
    "param_error",
    "shown",
]

_SCALE_RANGE = (2.0**-30, 2.0**30)  # |X| inside this range is left alone (about 1e-9 .. 1e9)


def shown(value: Any) -> Any:
    """A label as a message should show it: ``'money'``, not numpy's ``np.str_('money')``."""
    return value.item() if isinstance(value, np.generic) else value


def check_embeddings(X: Any, *, name: str = "X", min_rows: int = 1) -> np.ndarray:
    """Return ``X`` as a 2-D floating array or raise :class:`InputError` with a clear message.

    >>> check_embeddings([[1.0, 2.0]]).shape
    (1, 2)
    """
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} could not be read as a numeric array: {exc}") from None
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise InputError(
            f"{name} must hold numbers (embeddings), got dtype {arr.dtype}. "
            "Pass embeddings, not raw inputs; `headwise embed` makes them."
        )
    if arr.ndim != 2:
        raise InputError(
            f"{name} must be a 2-D array of shape (n_samples, n_features), got shape {arr.shape}."
        )
    if arr.shape[0] < min_rows:
        raise InputError(f"{name} has {arr.shape[0]} rows; at least {min_rows} needed.")
    if arr.shape[1] == 0:
        raise InputError(f"{name} has 0 features; embeddings need at least one dimension.")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    finite = np.isfinite(arr)
    if not finite.all():
        bad_rows = np.flatnonzero(~finite.all(axis=1))
        raise InputError(
            f"{name} contains NaN or infinite values in {bad_rows.size} row(s) "
            f"(first: row {int(bad_rows[0])}). Re-embed those inputs or drop them."
        )
    return arr


def check_n_features(n_features: int, expected: int, owner: str) -> None:
    """Raise the standard dimension-mismatch error."""
    if n_features != expected:
        raise InputError(
            f"X has {n_features} features, but {owner} is expecting {expected} features as "
            "input. Were these embeddings made by a different encoder?"
        )


def check_labels(y: Any, *, n_rows: int | None = None, min_classes: int = 2) -> np.ndarray:
    """Return ``y`` as a 1-D label array; refuse missing labels and too few classes."""
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise InputError(f"y must be 1-D (one label per row), got shape {arr.shape}.")
    if n_rows is not None and arr.shape[0] != n_rows:
        raise InputError(f"X has {n_rows} rows but y has {arr.shape[0]} labels; they must match.")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InputError("y contains NaN or infinite labels; drop or fill those rows.")
    if arr.dtype == object:
        if any(v is None for v in arr):
            raise InputError("y contains missing labels (None); drop or fill those rows.")
    n_classes = np.unique(arr).size
    if n_classes < min_classes:
        only = repr(arr[0].item() if hasattr(arr[0], "item") else arr[0]) if arr.size else "none"
        raise InputError(
            f"y has only {n_classes} class ({only}); a classifier needs at least "
            f"{min_classes} classes. Check the label column and the split you train on."
        )
    return arr


def check_one_label_type(values: Any, what: str = "The labels") -> None:
    """Refuse labels that mix text with numbers (``1`` and ``"1"``): they cannot be sorted into
    classes, and read as text they would merge or split a class by accident."""
    kinds = {isinstance(v, str) for v in values}
    if len(kinds) > 1:
        raise InputError(
            f"{what} mix text and numbers (such as 1 and '1'); use one label type throughout "
            "(all names or all ids)."
        )


def check_seen_labels(y: np.ndarray, y_train: np.ndarray, split: str = "test") -> None:
    """Refuse labels of ``split`` that no training row has: no head can predict them, so a
    score on them would be capped without a word (``quickstart`` and every protocol)."""
    unseen = np.setdiff1d(np.unique(y), np.unique(y_train))
    if unseen.size:
        raise InputError(
            f"{unseen.size} {split} label(s) never appear in train (e.g. {shown(unseen[0])!r}); "
            "a head cannot predict classes it was not fitted on. Give those classes training "
            f"rows, or leave their {split} rows out."
        )


def check_unicode(text: str, what: str) -> None:
    """Refuse an unpaired surrogate (JSON's ``"\\ud83d"`` without its pair, e.g. an emoji cut
    in half): no encoder, hash or database can encode it as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"{what} holds an unpaired surrogate (U+{ord(text[exc.start]):04X} at character "
            f"{exc.start}), which is not valid Unicode (often an emoji cut in half); fix or "
            "drop it."
        ) from None


_KINDS = {"U": "text", "S": "text", "b": "true/false", "i": "integer", "u": "integer", "f": "float"}
_PY_KINDS = ((bool, "true/false"), (str, "text"), (int, "integer"), (float, "float"))


def label_kind(a: np.ndarray) -> str:
    """``text``, ``true/false``, ``integer``, ``float`` or ``mixed`` (an object array's values
    by their Python type; numpy scalars count as their kind)."""
    if a.dtype.kind != "O":
        return _KINDS.get(a.dtype.kind, a.dtype.name)
    kinds = set()
    for v in a.tolist():
        kinds.add(next((name for t, name in _PY_KINDS if isinstance(v, t)), type(v).__name__))
    return kinds.pop() if len(kinds) == 1 else "mixed"


def fits_int64(value: int) -> bool:
    """Whether a Python integer is a 64-bit integer (numpy's labels, SQLite's ids).

    >>> fits_int64(2**63 - 1), fits_int64(2**63)
    (True, False)
    """
    return -(2**63) <= value < 2**63


def has_visible_char(text: str) -> bool:
    """Whether ``text`` holds a character a reader can see (not only spaces, control or
    format characters such as NUL or a zero-width space)."""
    return any(ch.isprintable() and not ch.isspace() for ch in text)


def check_texts(texts: Sequence[Any], *, column: str = "text") -> list[str]:
    """Refuse non-string and empty inputs, naming the first offending row."""
    out: list[str] = []
    for i, t in enumerate(texts):
        if t is None or (isinstance(t, float) and np.isnan(t)):
            raise InputError(f"Row {i} has no value in column '{column}'; drop or fill it.")
        if not isinstance(t, str):
            raise InputError(
                f"Row {i} of column '{column}' is {type(t).__name__}, expected text."
            )
        if not t.strip():
            raise InputError(
                f"Row {i} of column '{column}' is empty; drop empty rows before embedding."
            )
        if not t.isascii():
            check_unicode(t, f"Row {i} of column '{column}'")
        if not has_visible_char(t):
            # control or format characters only (NUL, zero-width space): the tokenizer drops
            # them all, and every such row would get the same vector of an empty input
            raise InputError(
                f"Row {i} of column '{column}' has no visible character ({t[:8]!r}); drop it or "
                "fix how the text was extracted."
            )
        out.append(t)
    if not out:
        raise InputError(f"No rows to embed in column '{column}'.")
    return out


def check_open_fraction(value: Any, name: str, what: str = "") -> float:
    """``value`` must be a number in the open interval (0, 1); ``what`` says what it is a fraction of.

    >>> check_open_fraction(0.2, "--calib-frac")
    0.2
    """
    ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
    if not ok or not 0.0 < float(value) < 1.0:
        of = f" {what}" if what else ""
        raise InputError(
            f"{name} must be a fraction in the open interval (0, 1){of}. Got {value!r} instead."
        )
    return float(value)


def check_int_range(value: Any, name: str, low: int, high: int | None = None, hint: str = "") -> int:
    """``value`` must be a whole number in ``[low, high]`` (no upper bound when ``high`` is None).

    The message reads "NAME must be a whole number between LOW and HIGH (HINT). Got V instead."

    >>> check_int_range(3, "--seeds", 1)
    3
    """
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        where = f"at least {low}" if high is None else f"between {low} and {high}"
        tail = f" {hint}" if hint else ""
        raise InputError(f"{name} must be a whole number {where}{tail}. Got {value!r} instead.")
    return int(value)


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """``value`` must be one of ``choices``.

    >>> check_choice("lac", "--method", ("lac", "aps"))
    'lac'
    """
    if value not in choices:
        raise InputError(
            f"{name} must be one of {', '.join(map(str, choices))}. Got {value!r} instead."
        )
    return value


def param_error(owner: str, name: str, expected: str, value: Any) -> InputError:
    """The standard message for a bad constructor parameter (scikit-learn's wording).

    >>> str(param_error("KNNHead", "n_neighbors", "an int in the range [1, inf)", 0))
    "The 'n_neighbors' parameter of KNNHead must be an int in the range [1, inf). Got 0 instead."
    """
    return InputError(f"The '{name}' parameter of {owner} must be {expected}. Got {value!r} instead.")


def check_param_int(value: Any, name: str, owner: str, low: int = 1) -> int:
    """An int ``>= low`` (bools refused), else :func:`param_error`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise param_error(owner, name, f"an int in the range [{low}, inf)", value)
    return int(value)


def check_param_float(
    value: Any, name: str, owner: str, low: float = 0.0, high: float = float("inf"),
    *, low_open: bool = False, high_open: bool = True,
) -> float:
    """A real number in the given range, else :func:`param_error` naming the range."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    if not ok:
        rng = f"{'(' if low_open else '['}{low:g}, {'inf' if high == float('inf') else f'{high:g}'}"
        rng += ")" if high_open else "]"
        raise param_error(owner, name, f"a float in the range {rng}", value)
    return float(value)


def check_param_choice(value: Any, name: str, owner: str, choices: Sequence[Any]) -> Any:
    """One of ``choices``, else :func:`param_error` listing them."""
    if value not in choices:
        raise param_error(owner, name, f"one of {tuple(choices)}", value)
    return value
def check_param_grid(
    grid: Any, single: Any, owner: str, names: tuple[str, str] = ("Cs", "C"), *, zero_ok: bool = False
) -> np.ndarray:
    """The sorted distinct values of a searched grid (``single`` alone when it is given): finite
    floats > 0 (>= 0 with ``zero_ok``), bools refused; else one :func:`param_error`-style line.

    >>> check_param_grid((1.0, 0.1, 1.0), None, "LinearSVMHead").tolist()
    [0.1, 1.0]
    """
    values = list(grid) if single is None else [single]
    ok = bool(values) and all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in values
    )
    arr = np.unique(np.asarray(values, dtype=np.float64)) if ok else np.array([np.nan])
    if not np.all(np.isfinite(arr) & ((arr >= 0) if zero_ok else (arr > 0))):
        g, s = names
        raise InputError(
            f"The '{g}' and '{s}' parameters of {owner} must be floats in {'[' if zero_ok else '('}0, inf). "
            f"Got {g}={grid!r}, {s}={single!r} instead."
        )
    return arr


def _rows_of(obj: Any) -> int | None:
    try:
        return len(obj)
    except TypeError:
        return None


def check_fit_inputs(X: Any, y: Any, owner: str) -> None:
    """Refuse the common mistakes in ``fit(X, y)`` with headwise's own :class:`InputError`.

    Catches what sklearn would report as a bare TypeError/ValueError: ``y`` missing, ``None`` or
    NaN labels (with their row numbers), X and y of different lengths, X that is not 2-D, and
    an empty X. Anything subtler is left to sklearn's validation.

    >>> check_fit_inputs([[0.0], [1.0]], ["a", None], "NCMHead")
    Traceback (most recent call last):
    ...
    headwise.exceptions.InputError: y has 1 missing label(s) (None or NaN) at rows 1; NCMHead needs a label for every row. Drop those rows or fill them (the CLI's --drop-unlabeled drops them).
    """
    if y is None:
        raise InputError(
            f"{owner} requires y to be passed, but the target y is None; give one label per row of X."
        )
    try:
        y_arr = np.asarray(y)
    except (TypeError, ValueError):
        y_arr = None
    if y_arr is not None and y_arr.ndim == 1:
        if y_arr.dtype.kind in "mMV":  # such labels fit, then could not be saved or served
            raise InputError(
                f"y holds {y_arr.dtype} labels; labels must be names, numbers or true/false. "
                "Convert them first, e.g. y.astype(str)."
            )
        if y_arr.dtype == object:
            missing = [i for i, v in enumerate(y_arr) if v is None or (isinstance(v, float) and v != v)]
        elif y_arr.dtype.kind == "f":
            missing = np.flatnonzero(~np.isfinite(y_arr)).tolist()
        else:
            missing = []
        if missing:
            shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
            raise InputError(
                f"y has {len(missing)} missing label(s) (None or NaN) at rows {shown}; {owner} "
                "needs a label for every row. Drop those rows or fill them (the CLI's "
                "--drop-unlabeled drops them)."
            )
        if y_arr.dtype == object and y_arr.size and label_kind(y_arr) == "mixed":
            kinds = {type(v).__name__ for v in y_arr.tolist()}  # numpy scalars as Python's
            raise InputError(
                f"y mixes label types ({', '.join(sorted(kinds))}); sklearn would read it as "
                "a regression target. Use one type for every label (all names or all ids)."
            )
    if hasattr(X, "shape") or isinstance(X, list | tuple):
        try:
            X_arr = np.asarray(X)
        except (TypeError, ValueError):
            return
        if X_arr.dtype == object:
            return  # sklearn names the bad element
        if X_arr.ndim != 2:
            raise InputError(
                f"X must be a 2-D array of shape (n_samples, n_features), got shape "
                f"{X_arr.shape}. Reshape a single row with X.reshape(1, -1), a single feature "
                "with X.reshape(-1, 1)."
            )
        for axis, what in ((0, "sample"), (1, "feature")):
            if X_arr.shape[axis] == 0:
                raise InputError(
                    f"Found array with 0 {what}(s) (shape={X_arr.shape}) while a minimum of 1 is "
                    f"required; {owner} needs at least one row and one feature in X."
                )
        n_y = _rows_of(y)
        if n_y is not None and n_y != X_arr.shape[0]:
            raise InputError(
                f"X has {X_arr.shape[0]} rows but y has {n_y} labels; they must match row for row."
            )


_MAX_ABS = 1e150  # beyond this (on the fit's scale) squared norms and distances overflow


def _row_peaks(X: np.ndarray) -> np.ndarray:
    """``max_j |X_ij|`` per row in float64, from two reductions (no ``|X|`` copy of X)."""
    return np.maximum(X.max(axis=1), -X.min(axis=1)).astype(np.float64)


def check_on_scale(X: np.ndarray, scale: float = 1.0) -> None:
    """Refuse rows with values beyond ``1e150`` times ``scale``, the scale a head was fitted on
    (1 once :func:`extreme_scale`'s factor is divided out): a squared norm of such a row
    overflows, so every head's scores would be NaN, infinite or an error deep inside it, and
    statistics that learnt the row would be poisoned for good.

    >>> check_on_scale(np.array([[1e100, 2.0]]))
    >>> check_on_scale(np.array([[1.0], [1e200]]))
    Traceback (most recent call last):
    ...
    headwise.exceptions.InputError: Row 1 has values up to 1e+200 times the scale of the rows the head was fitted on; arithmetic on it overflows. Send vectors on the scale of those the head was fitted on (from the same encoder).
    """
    if X.ndim != 2 or X.size == 0:
        return
    peak = _row_peaks(X) / scale
    if peak.max() > _MAX_ABS:
        i = int(np.argmax(peak > _MAX_ABS))
        raise InputError(
            f"Row {i} has values up to {peak[i]:.3g} times the scale of the rows the head was "
            "fitted on; arithmetic on it overflows. Send vectors on the scale of those the head "
            "was fitted on (from the same encoder)."
        )


def check_row_range(X: np.ndarray) -> None:
    """Refuse training rows beyond ``1e150`` times the typical row (the median of the rows'
    largest ``|x|``, zero rows aside): whatever common scale the head divides by, such a row
    overflows or the others underflow, and one row takes over every statistic (a head fitted
    with one row of 1e300 among unit rows predicted at chance).

    >>> check_row_range(np.array([[1.0, 0.0], [1e100, 2.0]]))
    >>> check_row_range(np.array([[1.0], [1.0], [1e300]]))
    Traceback (most recent call last):
    ...
    headwise.exceptions.InputError: Row 2 has values up to 1e+300, 1e+300 times the typical row's largest value (1); one such row overflows the arithmetic or takes over the fit. Drop it or check how it was embedded.
    """
    if X.ndim != 2 or X.size == 0:
        return
    peak = _row_peaks(X)
    typical = float(np.median(peak[peak > 0])) if np.any(peak > 0) else 0.0
    if typical > 0 and peak.max() > _MAX_ABS * typical:
        i = int(np.argmax(peak > _MAX_ABS * typical))
        raise InputError(
            f"Row {i} has values up to {peak[i]:.3g}, {peak[i] / typical:.3g} times the typical "
            f"row's largest value ({typical:.3g}); one such row overflows the arithmetic or "
            "takes over the fit. Drop it or check how it was embedded."
        )


def extreme_scale(X: np.ndarray) -> float:
    """1.0 for data of ordinary magnitude, else the power of two nearest ``max|X|``.

    Dividing by a power of two is exact in floating point, so heads divide X by this factor
    (fitted once, applied to every later X): features scaled by 1e±20 then fit as well as
    unscaled ones instead of overflowing or underflowing float32, and ordinary data is untouched.

    >>> extreme_scale(np.array([[1e20, -3e19]])) == 2.0**66
    True
    >>> extreme_scale(np.array([[0.5, 2.0]]))
    1.0
    """
    if X.size == 0:
        return 1.0
    with np.errstate(all="ignore"):  # two reductions, no |X| copy (NaN propagates alike)
        peak = max(float(np.max(X)), -float(np.min(X)))
    if not np.isfinite(peak) or peak == 0.0 or _SCALE_RANGE[0] <= peak <= _SCALE_RANGE[1]:
        return 1.0
    return float(2.0 ** np.round(np.log2(peak)))
