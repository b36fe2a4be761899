"""Mergeable sufficient statistics for closed-form heads.

One streaming pass over embeddings accumulates, in float64, the class counts, per-class sums and
per-class sums of squares, and the Gram matrix ``Σ x xᵀ``. NCM, LDA, ridge and Gaussian naive Bayes
are all pure functions of these, so fitting in chunks, on several workers, or in one go gives the
same head up to floating-point rounding.

The second-order parts are optional: the Gram matrix costs ``O(n d²)`` and only LDA and ridge read
it; the per-class squares only naive Bayes reads. Heads build statistics with just what they need
(``gram=False`` makes NCM and naive Bayes a single ``O(n d)`` pass).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas

from .._validation import fits_int64, label_kind
from ..exceptions import InputError

__all__ = ["SufficientStats", "check_classes_arg", "class_union"]


def class_union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sorted union of two label arrays of one kind.

    Labels of another kind are refused, not converted: numpy's union of integers with floats
    (or of int64 with uint64) is float64, so integer classes came back as floats (``5.0``), and
    true/false merged into the integers 1 and 0.
    """
    if a.size and b.size:
        ka, kb = label_kind(a), label_kind(b)
        if ka != kb:
            what = "text and numbers" if "text" in (ka, kb) else f"{ka} and {kb} labels"
            raise InputError(
                f"Labels mix {what} ({a[:1].tolist()} vs {b[:1].tolist()}); "
                "use one label type throughout."
            )
        if ka == "integer" and a.dtype != b.dtype:  # int64 with uint64: keep integers
            a, b = _as_int64(a), _as_int64(b)
    if a.size == 0:
        return np.unique(b)
    if b.size == 0:
        return np.unique(a)
    return np.union1d(a, b)


def _as_int64(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind == "u" and a.size and not fits_int64(int(a.max())):
        raise InputError(f"Label {int(a.max())} is beyond the int64 range the other labels use.")
    return a.astype(np.int64)


def check_classes_arg(classes: Any) -> np.ndarray:
    """``partial_fit``'s ``classes``: real labels only (None or NaN would become a class)."""
    arr = np.asarray(classes).ravel()
    if arr.size and arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InputError("classes holds NaN or infinity; list only real labels.")
    if arr.dtype == object and any(v is None or (isinstance(v, float) and v != v) for v in arr):
        raise InputError("classes holds a missing label (None or NaN); list only real labels.")
    if arr.dtype == object and label_kind(arr) == "mixed":
        raise InputError("classes mixes label types (such as 1 and '1'); use one label type.")
    return arr


_BLOCK_BYTES = 32 << 20  # float64 rows converted at a time (larger blocks: faster dsyrk)


def _float64_blocks(X: np.ndarray, codes: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(X_block as float64, codes_block)`` over row blocks of ``X``, converted into one reused
    buffer (float32 embeddings are widened exactly; nothing of size ``n × d`` is allocated).

    The buffer is rewritten for the next block: use each block before asking for the next.
    """
    n, d = X.shape
    step = max(1, min(n, _BLOCK_BYTES // (8 * max(d, 1))))
    if X.dtype == np.float64 and X.flags.c_contiguous:
        for s in range(0, n, step):
            yield X[s : s + step], codes[s : s + step]
        return
    buf = np.empty((step, d), dtype=np.float64)
    for s in range(0, n, step):
        e = min(s + step, n)
        out = buf[: e - s]
        np.copyto(out, X[s:e], casting="unsafe")
        yield out, codes[s:e]


def _syrk_update(gram: np.ndarray, X64: np.ndarray, alpha: float) -> None:
    """``gram += alpha · XᵀX`` on the upper triangle only (BLAS dsyrk: half a GEMM's flops)."""
    # Xᵀ of a C-ordered (n, d) array is a Fortran-ordered (d, n) view: no copy. dsyrk with
    # trans=0 computes alpha * A Aᵀ = alpha * Xᵀ X into the upper triangle of c.
    A = X64.T if X64.flags.c_contiguous else np.asfortranarray(X64.T)
    out = blas.dsyrk(alpha, A, beta=1.0, c=gram, trans=0, lower=0, overwrite_c=1)
    if out is not gram:  # scipy copies when ``gram`` is not Fortran-ordered float64
        gram[...] = out


def _accumulate(
    X: np.ndarray,
    codes: np.ndarray,
    n_codes: int,
    gram: np.ndarray | None,
    squares: bool,
    sign: float = 1.0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """One pass over ``X``: per-code sums (and sums of squares), and ``gram += sign · XᵀX``.

    All in float64. Per-code sums are a sparse one-hot product per block (``O(n d)`` whatever
    the number of classes); the Gram matrix is updated in place, block by block.
    """
    d = X.shape[1]
    sums = np.zeros((n_codes, d))
    sq = np.zeros((n_codes, d)) if squares else None
    for X64, cb in _float64_blocks(X, codes):
        m = X64.shape[0]
        onehot = sp.csr_matrix((np.ones(m), (cb, np.arange(m))), shape=(n_codes, m))
        sums += onehot @ X64
        if gram is not None:
            _syrk_update(gram, X64, sign)
        if sq is not None:
            sq += onehot @ np.square(X64)
    return sums, sq


@dataclass(eq=False)
class SufficientStats:
    """Counts, per-class sums, per-class sums of squares and the Gram matrix, all float64.

    ``gram`` holds only its upper triangle between updates for speed; read it through
    :attr:`gram_full`. ``a + b`` merges two statistics (classes are united and kept sorted).
    ``sq_sums`` or ``gram`` is ``None`` when the statistics were built without it
    (``squares=False`` / ``gram=False``); a merge keeps what both sides hold.

    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> s = SufficientStats.from_data(X, np.array([0, 1, 1]))
    >>> s.counts.tolist(), s.class_means[1].tolist()
    ([1.0, 2.0], [1.0, 0.5])
    """

    classes: np.ndarray  # (C,) sorted unique labels
    counts: np.ndarray  # (C,) float64 rows per class
    sums: np.ndarray  # (C, d) float64 per-class sum of x
    sq_sums: np.ndarray | None  # (C, d) float64 per-class Σ x**2 (naive Bayes), None if not kept
    gram: (
        np.ndarray | None
    )  # (d, d) float64 Σ x xᵀ (upper triangle authoritative), None if not kept
    n_features_: int | None = None  # d, needed when gram is None

    # ---------------------------------------------------------------- construction
    @classmethod
    def empty(
        cls,
        n_features: int,
        classes: Iterable[Any] = (),
        *,
        gram: bool = True,
        squares: bool = True,
    ) -> SufficientStats:
        """Zero statistics over ``n_features``; ``gram`` / ``squares`` choose what is kept."""
        listed = list(classes)  # ``if classes`` would be ambiguous for a numpy array
        cl = np.unique(np.asarray(listed)) if listed else np.asarray([])
        c, d = cl.size, int(n_features)
        return cls(
            classes=cl,
            counts=np.zeros(c),
            sums=np.zeros((c, d)),
            sq_sums=np.zeros((c, d)) if squares else None,
            gram=np.zeros((d, d), order="F") if gram else None,
            n_features_=d,
        )

    @classmethod
    def from_data(
        cls,
        X: np.ndarray,
        y: np.ndarray,
        *,
        chunk_size: int | None = None,
        gram: bool = True,
        squares: bool = True,
    ) -> SufficientStats:
        """Statistics of ``(X, y)``: one :meth:`update`, or one per ``chunk_size`` rows."""
        X = np.asarray(X)
        y = np.asarray(y)
        stats = cls.empty(X.shape[1], gram=gram, squares=squares)
        step = X.shape[0] if chunk_size is None else int(chunk_size)
        for start in range(0, X.shape[0], max(step, 1)):
            stats.update(X[start : start + step], y[start : start + step])
        return stats

    @classmethod
    def from_batches(
        cls,
        batches: Iterable[tuple[np.ndarray, np.ndarray]],
        *,
        gram: bool = True,
        squares: bool = True,
    ) -> SufficientStats:
        """One streaming pass over ``(X_chunk, y_chunk)`` pairs (e.g. memory-mapped shards)."""
        stats: SufficientStats | None = None
        for Xb, yb in batches:
            if stats is None:
                stats = cls.empty(np.asarray(Xb).shape[1], gram=gram, squares=squares)
            stats.update(Xb, yb)
        if stats is None:
            raise InputError("No batches to accumulate statistics from.")
        return stats

    # ---------------------------------------------------------------- updates
    def __post_init__(self) -> None:
        if self.n_features_ is None:
            self.n_features_ = int(np.shape(self.sums)[1])

    @property
    def n_features(self) -> int:
        return int(self.n_features_)  # type: ignore[arg-type]

    @property
    def has_gram(self) -> bool:
        return self.gram is not None

    @property
    def has_squares(self) -> bool:
        return self.sq_sums is not None

    def require(
        self, *, gram: bool = False, squares: bool = False, head: str = "this head"
    ) -> None:
        """Raise :class:`InputError` when a needed second-order part was not accumulated."""
        if gram and self.gram is None:
            raise InputError(
                f"{head} needs the Gram matrix, but these statistics were built with gram=False. "
                "Accumulate them again with gram=True (the default)."
            )
        if squares and self.sq_sums is None:
            raise InputError(
                f"{head} needs per-class sums of squares, but these statistics were built with "
                "squares=False. Accumulate them again with squares=True (the default)."
            )

    @property
    def n_samples(self) -> float:
        return float(self.counts.sum())

    @property
    def n_classes(self) -> int:
        return int(self.classes.size)

    def _expand_classes(self, new_classes: np.ndarray) -> None:
        union = class_union(self.classes, new_classes)
        if union.size == self.classes.size:
            return
        pos = np.searchsorted(union, self.classes)
        d = self.n_features
        counts, sums = np.zeros(union.size), np.zeros((union.size, d))
        counts[pos], sums[pos] = self.counts, self.sums
        if self.sq_sums is not None:
            sq = np.zeros((union.size, d))
            sq[pos] = self.sq_sums
            self.sq_sums = sq
        self.classes, self.counts, self.sums = union, counts, sums

    def _rows(self, X: Any, y: Any, hint: str) -> tuple[np.ndarray, np.ndarray]:
        """``X`` (n, n_features) and ``y`` (n,) as arrays, or one line saying what is wrong."""
        X = np.asarray(X)
        y = np.asarray(y)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise InputError(
                f"X has {X.shape[-1] if X.ndim else 0} features, but these statistics hold "
                f"{self.n_features} features. {hint[0].upper()}{hint[1:]}"
            )
        if y.shape != (X.shape[0],):
            raise InputError(
                f"X has {X.shape[0]} rows but y has shape {y.shape}; pass one label per row."
            )
        return X, y

    def update(self, X: np.ndarray, y: np.ndarray) -> SufficientStats:
        """Add rows ``X`` with labels ``y`` in place; new classes are inserted in sorted order."""
        X, y = self._rows(X, y, "Were these embeddings made by a different encoder?")
        if X.shape[0] == 0:
            return self
        uniq, codes = np.unique(y, return_inverse=True)
        self._expand_classes(uniq)
        target = np.searchsorted(self.classes, uniq)
        self.counts[target] += np.bincount(codes, minlength=uniq.size)
        sums, sq = _accumulate(X, codes, uniq.size, self.gram, self.sq_sums is not None)
        self.sums[target] += sums
        if self.sq_sums is not None:
            self.sq_sums[target] += sq
        return self

    def subtract(self, X: np.ndarray, y: np.ndarray) -> SufficientStats:
        """Remove rows ``X`` with labels ``y`` in place: the exact inverse of :meth:`update`.

        Every statistic is a sum over rows, so a row's contribution can be taken out again
        ("unlearning" without retraining); the result equals statistics never given the rows,
        up to floating-point rounding. A class whose count this removal brings to zero is
        dropped, so adding rows of a new class and removing them leaves the classes as they
        were; classes that were already empty (declared through ``empty(classes=...)``) stay.
        Removing rows of an unknown class, or more rows of a class than it holds, raises
        :class:`InputError` and changes nothing.

        >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        >>> s = SufficientStats.from_data(X, np.array([0, 1, 2]))
        >>> s.subtract(X[2:], np.array([2])).classes.tolist(), s.sums.tolist()
        ([0, 1], [[0.0, 1.0], [1.0, 0.0]])
        """
        X, y = self._rows(
            X, y, "rows can only be removed from the statistics they were added to."
        )
        if X.shape[0] == 0:
            return self
        uniq, codes = np.unique(y, return_inverse=True)
        class_union(self.classes, uniq)  # refuses text labels against numeric ones
        target = np.minimum(np.searchsorted(self.classes, uniq), max(self.classes.size - 1, 0))
        if self.classes.size == 0 or not np.array_equal(self.classes[target], uniq):
            missing = np.setdiff1d(uniq, self.classes)
            raise InputError(
                f"Cannot remove rows of class {missing[0].item()!r}: these statistics hold no such "
                "class. Remove rows only with the labels they were added with."
            )
        removed = np.bincount(codes, minlength=uniq.size).astype(np.float64)
        if (removed > self.counts[target]).any():
            bad = uniq[np.argmax(removed > self.counts[target])]
            raise InputError(
                f"Cannot remove more rows of class {bad.item()!r} than the statistics hold; each row "
                "may be removed once."
            )
        was_present = self.counts > 0
        sums, sq = _accumulate(X, codes, uniq.size, self.gram, self.sq_sums is not None, -1.0)
        self.counts[target] -= removed
        self.sums[target] -= sums
        if self.sq_sums is not None:
            self.sq_sums[target] -= sq
        emptied = was_present & (self.counts <= 0)
        if emptied.any():
            keep = ~emptied
            self.classes, self.counts = self.classes[keep], self.counts[keep]
            self.sums = self.sums[keep]
            if self.sq_sums is not None:
                self.sq_sums = self.sq_sums[keep]
        return self

    def merge(self, other: SufficientStats) -> SufficientStats:
        """Return a new object holding both statistics (associative and order-free)."""
        if other.n_features != self.n_features:
            raise InputError(
                f"Cannot merge statistics with {other.n_features} features into ones with "
                f"{self.n_features}; they come from different encoders or layers."
            )
        out = self.copy()
        if other.sq_sums is None:
            out.sq_sums = None
        if other.gram is None:
            out.gram = None
        out._expand_classes(other.classes)
        pos = np.searchsorted(out.classes, other.classes)
        out.counts[pos] += other.counts
        out.sums[pos] += other.sums
        if out.sq_sums is not None:
            out.sq_sums[pos] += other.sq_sums
        if out.gram is not None:
            out.gram += other.gram
        return out

    def __add__(self, other: SufficientStats) -> SufficientStats:
        return self.merge(other)

    def copy(self) -> SufficientStats:
        return SufficientStats(
            classes=self.classes.copy(),
            counts=self.counts.copy(),
            sums=self.sums.copy(),
            sq_sums=None if self.sq_sums is None else self.sq_sums.copy(),
            gram=None if self.gram is None else np.array(self.gram, order="F", copy=True),
            n_features_=self.n_features_,
        )

    # ---------------------------------------------------------------- derived quantities
    @property
    def gram_full(self) -> np.ndarray:
        """The symmetric Gram matrix ``Σ x xᵀ``."""
        self.require(gram=True, head="The Gram matrix")
        g = np.triu(self.gram)
        return g + np.triu(g, 1).T

    @property
    def total_sum(self) -> np.ndarray:
        return self.sums.sum(axis=0)

    @property
    def mean(self) -> np.ndarray:
        return self.total_sum / self.n_samples

    @property
    def class_means(self) -> np.ndarray:
        return self.sums / self.counts[:, None]

    @property
    def priors(self) -> np.ndarray:
        return self.counts / self.n_samples

    def total_scatter(self) -> np.ndarray:
        """Centred scatter ``Σ (x-μ)(x-μ)ᵀ``."""
        s = self.total_sum
        return self.gram_full - np.outer(s, s) / self.n_samples

    def within_scatter(self) -> np.ndarray:
        """Pooled within-class scatter ``Σ_c Σ_{i∈c} (x-μ_c)(x-μ_c)ᵀ``."""
        nz = self.counts > 0
        if not (self.counts > 1).any():  # every row is its class mean: zero, not the rounding
            return np.zeros_like(self.gram_full)  # of gram - Σ x xᵀ (LDA then takes the identity)
        S = self.sums[nz]
        return self.gram_full - (S.T / self.counts[nz]) @ S

    def class_variances(self) -> np.ndarray:
        """Per-class, per-feature (biased) variances, shape (C, d)."""
        self.require(squares=True, head="Per-class variances")
        m = self.class_means
        return np.maximum(self.sq_sums / self.counts[:, None] - m * m, 0.0)

    def total_variances(self) -> np.ndarray:
        """Per-feature (biased) variance over all rows, from the squares or the Gram diagonal."""
        n, s = self.n_samples, self.total_sum
        sq = self.sq_sums.sum(axis=0) if self.sq_sums is not None else np.diag(self.gram_full)
        return np.maximum(sq / n - (s / n) ** 2, 0.0)

    # ---------------------------------------------------------------- persistence
    def to_arrays(self, prefix: str = "") -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {f"{prefix}counts": self.counts, f"{prefix}sums": self.sums}
        if self.sq_sums is not None:
            arrays[f"{prefix}sq_sums"] = self.sq_sums
        if self.gram is not None:
            arrays[f"{prefix}gram"] = np.ascontiguousarray(self.gram_full)
        meta = {"classes": self.classes.tolist(), "classes_dtype": self.classes.dtype.str}
        return arrays, meta

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], meta: dict[str, Any], prefix: str = ""
    ) -> SufficientStats:
        classes = np.asarray(meta["classes"], dtype=np.dtype(meta["classes_dtype"]))
        sq, gram = arrays.get(f"{prefix}sq_sums"), arrays.get(f"{prefix}gram")
        return cls(
            classes=classes,
            counts=np.asarray(arrays[f"{prefix}counts"], dtype=np.float64),
            sums=np.asarray(arrays[f"{prefix}sums"], dtype=np.float64),
            sq_sums=None if sq is None else np.asarray(sq, dtype=np.float64),
            gram=None if gram is None else np.asfortranarray(gram, dtype=np.float64),
        )
