"""One BLAS thread for small d×d factorizations, unchanged limits for large ones."""

from __future__ import annotations

from threadpoolctl import threadpool_info

from headwise._threads import SMALL_DIM, small_linalg


def _blas_threads() -> set[int]:
    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


def test_small_linalg_caps_blas_threads_and_restores_them() -> None:
    before = _blas_threads()
    with small_linalg(384):
        assert _blas_threads() <= {1}
    assert _blas_threads() == before
    with small_linalg(SMALL_DIM + 1):
        assert _blas_threads() == before
