"""One BLAS thread for small dense factorizations (Cholesky, eigh of a d×d matrix).

A d×d factorization with d ≤ :data:`SMALL_DIM` is a few milliseconds of work; OpenBLAS still
splits it over every core, and on a machine whose cores are busy with other work its threads
wait on each other: a 384×384 Cholesky took 0.46 s (up to 1.8 s) with two threads on a loaded
2-core machine and 0.9 ms with one. :func:`small_linalg` caps BLAS at one thread for such calls
only; large GEMMs (the Gram pass) keep every thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["SMALL_DIM", "small_linalg"]

SMALL_DIM = 1024
_controller: list[Any] = []  # one ThreadpoolController, built on first use (it scans libraries)


@contextmanager
def small_linalg(dim: int) -> Iterator[None]:
    """Run the block with one BLAS thread when ``dim`` ≤ :data:`SMALL_DIM`, else unchanged.

    >>> import numpy as np
    >>> with small_linalg(3):
    ...     float(np.linalg.cholesky(np.eye(3))[0, 0])
    1.0
    """
    if dim > SMALL_DIM:
        yield
        return
    if not _controller:
        from threadpoolctl import ThreadpoolController

        _controller.append(ThreadpoolController())
    with _controller[0].limit(limits=1, user_api="blas"):
        yield
