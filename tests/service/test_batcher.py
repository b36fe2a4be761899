"""Micro-batching: concurrent requests share encoder passes; limits and errors are per request."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from headwise.service._batcher import MicroBatcher
from headwise.service._errors import Unavailable


def _encode(calls: list[list[str]]):  # noqa: ANN202
    def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.array([[float(len(t)), float(i)] for i, t in enumerate(texts)])

    return encode


def _run(coro):  # noqa: ANN001, ANN202
    return asyncio.run(coro)


def test_concurrent_requests_share_one_pass_and_get_their_own_rows() -> None:
    calls: list[list[str]] = []
    sizes: list[int] = []

    async def main() -> list[np.ndarray]:
        b = MicroBatcher(_encode(calls), max_batch=64, max_wait_ms=50, max_queue=100, on_batch=sizes.append)
        b.start()
        try:
            return await asyncio.gather(*(b.submit(["x" * k] * k) for k in range(1, 6)))
        finally:
            await b.stop()

    out = _run(main())
    assert len(calls) == 1 and sizes == [15]  # 1+2+3+4+5 texts, one forward pass
    for k, X in zip(range(1, 6), out, strict=True):
        assert X.shape == (k, 2) and (X[:, 0] == k).all()


def test_batches_close_at_max_batch_without_splitting_a_request() -> None:
    calls: list[list[str]] = []

    async def main() -> None:
        b = MicroBatcher(_encode(calls), max_batch=4, max_wait_ms=50, max_queue=100)
        b.start()
        try:
            await asyncio.gather(*(b.submit(["a", "b", "c"]) for _ in range(3)))
            await b.submit(["a"] * 6)  # larger than max_batch: one pass of its own
        finally:
            await b.stop()

    _run(main())
    assert [len(c) for c in calls] == [3, 3, 3, 6]


def test_queue_limit_and_encoder_errors() -> None:
    def broken(texts: list[str]) -> np.ndarray:
        raise ValueError("encoder exploded")

    async def main() -> None:
        b = MicroBatcher(broken, max_batch=8, max_wait_ms=1, max_queue=3)
        with pytest.raises(Unavailable, match="starting"):
            await b.submit(["a"])
        b.start()
        try:
            with pytest.raises(Unavailable, match="waiting"):
                await b.submit(["a"] * 4)
            results = await asyncio.gather(b.submit(["a"]), b.submit(["b"]), return_exceptions=True)
            assert all(isinstance(r, ValueError) for r in results)
            with pytest.raises(ValueError):
                await b.submit(["c", "d", "e"])  # the queue is free again
        finally:
            await b.stop()

    _run(main())


def test_doctests() -> None:
    import doctest

    from headwise.service import _metrics, settings

    for module in (_metrics, settings):
        assert doctest.testmod(module).failed == 0
