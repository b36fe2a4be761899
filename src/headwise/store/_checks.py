"""Checks on what the caller passes and what the encoder returns, before anything is cached."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import InputError

__all__ = ["check_output", "check_positive_int"]


def check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise InputError(
            f"The {name!r} parameter of EmbeddingStore.get_or_compute must be an int in the "
            f"range [1, inf). Got {value!r} instead."
        )
    return int(value)


def check_output(
    out: Any, manifest: dict[str, Any], at: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate one batch of encoder output; return (vectors in storage dtype, offsets or None).

    ``at`` holds the input positions of the batch's rows, so messages name the user's rows.
    """
    name, dim, rows = manifest["encoder_name"], manifest["dim"], int(at.shape[0])
    where = f"the {rows} inputs starting at input {int(at[0])}"
    is_tokens = hasattr(out, "vectors") and hasattr(out, "offsets")
    offsets = None
    if manifest["pooling"] == "tokens":
        if not is_tokens:
            raise InputError(
                f"Encoder {name!r} has pooling='tokens' but encode() returned "
                f"{type(out).__name__}; expected an object with .vectors and .offsets."
            )
        vectors, offsets = np.asarray(out.vectors), np.asarray(out.offsets)
        if (
            offsets.shape != (rows + 1,)
            or not np.issubdtype(offsets.dtype, np.integer)
            or offsets[0] != 0
            or np.any(np.diff(offsets) < 0)
            or vectors.ndim != 2
            or offsets[-1] != vectors.shape[0]
        ):
            raise InputError(
                f"Encoder {name!r} returned inconsistent token embeddings for {where}: offsets "
                f"of shape {offsets.shape} ending at {offsets[-1] if offsets.size else None}, "
                f"vectors of shape {vectors.shape}; expected {rows + 1} non-decreasing offsets "
                "from 0 to the number of token vectors."
            )
        offsets = offsets.astype("<i8")
    else:
        if is_tokens:
            raise InputError(
                f"Encoder {name!r} returned token embeddings but its pooling is "
                f"{manifest['pooling']!r}; set pooling='tokens' or return an (n, dim) array."
            )
        try:
            vectors = np.asarray(out)
        except ValueError:  # rows of different lengths: numpy's "inhomogeneous shape"
            raise InputError(
                f"Encoder {name!r} returned rows of different lengths for {where}; expected "
                f"{rows} rows of {dim} values (encoder.dim)."
            ) from None
    if vectors.ndim != 2 or vectors.shape[1] != dim or (offsets is None and len(vectors) != rows):
        expected = f"(n_tokens, {dim})" if offsets is not None else f"({rows}, {dim})"
        raise InputError(
            f"Encoder {name!r} returned an array of shape {vectors.shape} for {where}; "
            f"expected {expected} (encoder.dim={dim}). Check the encoder's dim and output."
        )
    if not (np.issubdtype(vectors.dtype, np.floating) or np.issubdtype(vectors.dtype, np.integer)):
        raise InputError(f"Encoder {name!r} returned {vectors.dtype} values; expected floats.")
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        rows_bad = np.flatnonzero(bad)
        if offsets is not None:
            rows_bad = np.unique(np.searchsorted(offsets, rows_bad, side="right") - 1)
        raise InputError(
            f"Encoder {name!r} returned NaN or infinite values for {rows_bad.size} of {rows} "
            f"inputs (first: input {int(at[int(rows_bad[0])])}); refusing to cache them. Check "
            "those inputs or the encoder's numerics."
        )
    with np.errstate(over="ignore"):
        stored = vectors.astype("<f2" if manifest["dtype"] == "float16" else "<f4")
    if not np.isfinite(stored).all():
        peak = float(np.abs(vectors).max())
        if manifest["dtype"] == "float16":
            raise InputError(
                f"Encoder {name!r} returned values up to {peak:.3g}, beyond float16's range "
                "(65504); embed with dtype='float32' instead."
            )
        raise InputError(
            f"Encoder {name!r} returned values up to {peak:.3g}, beyond float32's range "
            "(3.4e38) that the store keeps; check the encoder's numerics (normalise its output)."
        )
    return stored, offsets
