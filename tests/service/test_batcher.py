"""Micro-batching: concurrent requests share encoder passes; limits and errors are per request."""

from __future__ import annotations

import asyncio
import time

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


def test_a_batch_stops_waiting_once_it_is_as_large_as_the_previous_one() -> None:
    # round 1 waits (max_wait 300 ms) for its 3 requests; in round 2 the same 3 clients come
    # back and the batch closes at once, without waiting out max_wait for a 4th that comes
    # 150 ms later (it gets a pass of its own)
    calls: list[list[str]] = []
    closed: list[float] = []

    def encode(texts: list[str]) -> np.ndarray:
        closed.append(time.monotonic())
        return _encode(calls)(texts)

    async def main() -> None:
        b = MicroBatcher(encode, max_batch=64, max_wait_ms=300, max_queue=100)
        b.start()

        async def late() -> None:
            await asyncio.sleep(0.15)
            await b.submit(["late"])

        try:
            await asyncio.gather(*(b.submit([f"a{i}"]) for i in range(3)))
            t0 = time.monotonic()
            await asyncio.gather(*(b.submit([f"b{i}"]) for i in range(3)), late())
            closed.append(t0)
        finally:
            await b.stop()

    _run(main())
    assert [len(c) for c in calls] == [3, 3, 1]
    assert closed[1] - closed[-1] < 0.1  # round 2 did not wait for max_wait


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_at_most_workers_passes_run_at_once_and_each_gets_its_rows(workers: int) -> None:
    import threading
    import time

    lock = threading.Lock()
    running, peak = [0], [0]

    def encode(texts: list[str]) -> np.ndarray:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)  # a forward pass (the runtime releases the GIL)
        with lock:
            running[0] -= 1
        return np.array([[float(t)] for t in texts])

    async def main() -> list[np.ndarray]:
        b = MicroBatcher(encode, max_batch=2, max_wait_ms=0, max_queue=100, workers=workers)
        b.start()
        try:
            return await asyncio.gather(*(b.submit([str(k), str(k)]) for k in range(8)))
        finally:
            await b.stop()

    out = _run(main())
    assert peak[0] == workers  # eight one-request batches: the workers are all busy at some point
    for k, X in enumerate(out):
        assert X.ravel().tolist() == [float(k), float(k)]


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


def _cost(lengths: list[int], groups: list[list[int]], a: float) -> float:
    return sum(a + len(g) * max(lengths[i] for i in g) for g in groups)


def test_length_groups_is_the_cheapest_split_of_the_sorted_rows() -> None:
    from itertools import combinations

    from headwise.service._batcher import length_groups

    rng = np.random.default_rng(0)
    for _ in range(40):
        n = int(rng.integers(1, 8))
        lengths = [int(v) for v in rng.integers(1, 60, n)]
        a = float(np.mean(lengths))
        groups = length_groups(lengths)
        assert sorted(i for g in groups for i in g) == list(range(n))  # a partition
        order = sorted(range(n), key=lambda i: -lengths[i])
        brute = min(  # every split of the sorted rows into consecutive groups
            _cost(lengths, [order[s:e] for s, e in zip((0, *cuts), (*cuts, n), strict=True)], a)
            for k in range(n) for cuts in combinations(range(1, n), k)
        )  # fmt: skip
        assert _cost(lengths, groups, a) == pytest.approx(brute)
    assert length_groups([]) == []
    assert length_groups([3, 90, 4], overhead=1e9) == [[1, 2, 0]]  # passes dear: one pass
    assert length_groups([3, 90, 4], overhead=0) == [[1], [2], [0]]  # passes free: no padding


def test_encode_by_length_returns_rows_in_request_order() -> None:
    from headwise.encoders import get_encoder
    from headwise.service._batcher import encode_by_length

    enc = get_encoder("hash")
    texts = ["a", "a much longer text " * 20, "bb", "ccc ddd", "another long one " * 15, "e"]
    calls: list[int] = []

    class Counted:
        packs_inputs = False

        def encode(self, batch: list[str], *, batch_size: int) -> np.ndarray:
            calls.append(len(batch))
            return enc.encode(batch, batch_size=batch_size)

    counted = Counted()
    np.testing.assert_array_equal(encode_by_length(counted, texts), enc.encode(texts))
    assert len(calls) > 1 and sum(calls) == len(texts)  # the long texts went in a pass of their own
    calls.clear()  # an encoder that packs texts into rows gets the whole micro-batch at once
    counted.packs_inputs = True
    np.testing.assert_array_equal(encode_by_length(counted, texts), enc.encode(texts))
    assert calls == [len(texts)]


def test_measure_overhead_reads_the_fixed_cost_of_a_call() -> None:
    from headwise.service._batcher import measure_overhead, text_length

    def encode(texts: list[str], *, batch_size: int) -> np.ndarray:
        busy(0.004 + 0.001 * len(texts))  # a call costs 4 ms + 1 ms per row, in CPU time
        return np.zeros((len(texts), 2))

    def busy(seconds: float) -> None:
        import time

        t0 = time.process_time()
        while time.process_time() - t0 < seconds:
            pass

    text = "one two three"
    found = measure_overhead(encode, text, rows=8, repeats=3)
    assert found is not None and abs(found - 4 * text_length(text)) < 2 * text_length(text)



def test_a_micro_batch_larger_than_the_encoders_cap_is_encoded_in_passes() -> None:
    # a request is never split, so --max-rows above MAX_BATCH makes such a batch
    from headwise.encoders import MAX_BATCH, get_encoder
    from headwise.service._batcher import encode_by_length

    enc = get_encoder("hash")
    texts = [f"row {i}" for i in range(MAX_BATCH + 5)]
    np.testing.assert_array_equal(encode_by_length(enc, texts), enc.encode(texts))
