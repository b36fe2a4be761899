"""Mergeable statistics for multi-output ridge on ±1 label targets, with unknown entries masked.

Targets are ``t = +1`` (label on), ``-1`` (off) and ``0`` where the entry is unknown, so
``Σ x tᵀ`` already leaves unknown entries out. A label's regression is fitted on its known rows
only: its Gram matrix is the full one minus ``Σ x xᵀ`` over the rows where it is unknown, kept
(per label, ``(L, d, d)``) only once some entry has been unknown. Everything is float64 and
additive, so chunked, merged and batch statistics agree up to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import InputError
from ._stats import class_union

__all__ = ["MultiLabelStats"]


@dataclass(eq=False)
class MultiLabelStats:
    """Sufficient statistics of ``(X, Y)`` for every label's ridge regression.

    >>> s = MultiLabelStats.from_data(np.eye(3), np.array([[1.0, 0], [0, 1], [1, np.nan]]), np.arange(2))
    >>> s.n_known.tolist(), s.t_sum.tolist()
    ([3.0, 2.0], [1.0, 0.0])
    """

    classes: np.ndarray  # (L,) sorted labels
    n: float  # rows seen
    x_sum: np.ndarray  # (d,) Σ x over all rows
    gram: np.ndarray  # (d, d) Σ x xᵀ over all rows
    xt: np.ndarray  # (d, L) Σ x t (t = ±1 known, 0 unknown)
    t_sum: np.ndarray  # (L,) Σ t
    n_known: np.ndarray  # (L,) rows where the label is known
    miss_sum: np.ndarray  # (L, d) Σ x over rows where the label is unknown
    miss_gram: np.ndarray | None  # (L, d, d) Σ x xᵀ over rows where it is unknown, or None

    @classmethod
    def empty(cls, n_features: int) -> MultiLabelStats:
        d = int(n_features)
        return cls(np.asarray([], dtype=np.int64), 0.0, np.zeros(d), np.zeros((d, d)),
                   np.zeros((d, 0)), np.zeros(0), np.zeros(0), np.zeros((0, d)), None)  # fmt: skip

    @classmethod
    def from_data(cls, X: np.ndarray, Y: np.ndarray, classes: np.ndarray) -> MultiLabelStats:
        return cls.empty(np.shape(X)[1]).update(X, Y, classes)

    @property
    def n_features(self) -> int:
        return int(self.x_sum.size)

    def _expand(self, new: np.ndarray) -> None:
        """Insert labels never seen before; every row so far was a (known) negative for them."""
        union = class_union(self.classes, new)
        if union.size == self.classes.size:
            return
        pos = np.searchsorted(union, self.classes)
        L, d = union.size, self.n_features
        xt = -np.repeat(self.x_sum[:, None], L, axis=1)
        xt[:, pos] = self.xt
        t_sum = np.full(L, -self.n)
        t_sum[pos] = self.t_sum
        n_known = np.full(L, self.n)
        n_known[pos] = self.n_known
        miss_sum = np.zeros((L, d))
        miss_sum[pos] = self.miss_sum
        if self.miss_gram is not None:
            mg = np.zeros((L, d, d))
            mg[pos] = self.miss_gram
            self.miss_gram = mg
        self.classes, self.xt, self.t_sum, self.n_known, self.miss_sum = union, xt, t_sum, n_known, miss_sum

    def update(self, X: np.ndarray, Y: np.ndarray, classes: np.ndarray) -> MultiLabelStats:
        """Add rows ``X`` with targets ``Y`` (0/1, NaN unknown) over ``classes``, in place."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise InputError(
                f"X has {X.shape[-1] if X.ndim else 0} features, but these statistics hold "
                f"{self.n_features} features. Were these embeddings made by a different encoder?"
            )
        self._expand(np.asarray(classes))
        Yf = np.zeros((X.shape[0], self.classes.size))  # labels absent from this batch: negatives
        Yf[:, np.searchsorted(self.classes, classes)] = Y
        unknown = np.isnan(Yf)
        T = np.where(unknown, 0.0, 2.0 * np.nan_to_num(Yf) - 1.0)
        self.n += X.shape[0]
        self.x_sum += X.sum(axis=0)
        self.gram += X.T @ X
        self.xt += X.T @ T
        self.t_sum += T.sum(axis=0)
        self.n_known += (~unknown).sum(axis=0)
        if unknown.any():
            U = unknown.astype(np.float64)
            self.miss_sum += U.T @ X
            if self.miss_gram is None:
                self.miss_gram = np.zeros((self.classes.size, self.n_features, self.n_features))
            for j in np.flatnonzero(unknown.any(axis=0)):
                Xu = X[unknown[:, j]]
                self.miss_gram[j] += Xu.T @ Xu
        return self

    def label_system(self, j: int) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, float, float]:
        """``(n, x_sum, gram, xt, t_sum, t_sq)`` of label ``j`` restricted to its known rows."""
        n = float(self.n_known[j])
        if self.miss_gram is None or self.n_known[j] == self.n:
            return n, self.x_sum, self.gram, self.xt[:, j], float(self.t_sum[j]), n
        return (n, self.x_sum - self.miss_sum[j], self.gram - self.miss_gram[j], self.xt[:, j],
                float(self.t_sum[j]), n)  # fmt: skip

    def fully_known(self) -> np.ndarray:
        """Boolean mask of labels with no unknown entry (they share one eigendecomposition)."""
        return self.n_known == self.n

    # ---------------------------------------------------------------- persistence
    def to_arrays(self, prefix: str = "") -> tuple[dict[str, np.ndarray], dict[str, object]]:
        arrays = {f"{prefix}{k}": getattr(self, k) for k in _ARRAYS}
        arrays[f"{prefix}n"] = np.asarray([self.n])
        if self.miss_gram is not None:
            arrays[f"{prefix}miss_gram"] = self.miss_gram
        return arrays, {"classes": self.classes.tolist(), "classes_dtype": self.classes.dtype.str}

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], meta: dict[str, object], prefix: str = ""
    ) -> MultiLabelStats:
        classes = np.asarray(meta["classes"], dtype=np.dtype(str(meta["classes_dtype"])))
        got = {k: np.asarray(arrays[f"{prefix}{k}"], dtype=np.float64) for k in _ARRAYS}
        mg = arrays.get(f"{prefix}miss_gram")
        return cls(classes=classes, n=float(arrays[f"{prefix}n"][0]),
                   miss_gram=None if mg is None else np.asarray(mg, dtype=np.float64), **got)  # fmt: skip


_ARRAYS = ("x_sum", "gram", "xt", "t_sum", "n_known", "miss_sum")
