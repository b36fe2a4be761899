"""Where the logistic probe's rows live while it is fitted without holding them in memory.

:meth:`LogisticHead.fit_rows` needs two things from its rows, whatever holds them: one pass of
float64 class statistics (for the whitening) and, for a set of row positions, a softmax
problem whose objective and gradient are sums over those rows. :class:`ChunkSource` evaluates
both by re-reading chunks in this process; ``headwise.distributed`` evaluates them on Ray
workers that each keep a part of the rows (data-parallel gradients).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np

from ..exceptions import InputError
from ._softmax import ChunkedSoftmaxProblem, Preprocessor, SoftmaxProblem
from ._stats import SufficientStats

__all__ = ["RowSource", "ChunkSource"]


class RowSource(Protocol):
    """Rows a head can be fitted on without holding them (see the module docstring)."""

    def stats(self, positions: np.ndarray | None) -> SufficientStats:
        """Statistics (Gram matrix and class sums) of the rows at ``positions`` (all if None)."""
        ...

    def problem(
        self,
        positions: np.ndarray | None,
        codes: np.ndarray,
        classes: np.ndarray,
        pre: Preprocessor,
        weights: np.ndarray | None,
        s_sum: float,
        dtype: type,
    ) -> SoftmaxProblem:
        """The softmax problem over the rows at ``positions`` (their class ``codes`` given);
        ``weights`` are per-class weights or None."""
        ...


class ChunkSource:
    """Rows re-read in chunks in this process: ``chunks(positions)`` yields ``(X, y)`` pairs."""

    def __init__(self, chunks: Callable[[Any], Iterator[tuple[Any, Any]]]) -> None:
        self.chunks = chunks

    def stats(self, positions: np.ndarray | None) -> SufficientStats:
        return SufficientStats.from_batches(self.chunks(positions), squares=False)

    def problem(
        self,
        positions: np.ndarray | None,
        codes: np.ndarray,
        classes: np.ndarray,
        pre: Preprocessor,
        weights: np.ndarray | None,
        s_sum: float,
        dtype: type,
    ) -> ChunkedSoftmaxProblem:
        d = int(pre.shift.shape[0])

        def coded() -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
            for Xc, yc in self.chunks(positions):
                cc = np.searchsorted(classes, np.asarray(yc))
                if np.shape(Xc)[1] != d:
                    raise InputError(
                        f"A chunk has {np.shape(Xc)[1]} features, the first had {d}; "
                        "the rows must come from one encoder."
                    )
                yield Xc, cc, None if weights is None else weights[cc]

        return ChunkedSoftmaxProblem(coded, pre, d, codes, classes.size, s_sum, dtype)
