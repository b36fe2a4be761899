"""Micro-batching: texts from concurrent requests share one encoder forward pass.

The first text to arrive waits at most ``max_wait_ms`` for others; a batch closes when it holds
``max_batch`` texts (a request is never split) or the wait is over. One batch runs at a time per
encoder, in a worker thread, so while it runs the next one fills up: under load the batches grow
by themselves and throughput approaches the encoder's own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np

from ._errors import Unavailable

__all__ = ["MicroBatcher"]


class MicroBatcher:
    """Gather ``submit(texts)`` calls into batches for ``encode(list_of_texts) -> (n, d)``."""

    def __init__(
        self,
        encode: Callable[[list[str]], np.ndarray],
        *,
        max_batch: int,
        max_wait_ms: float,
        max_queue: int,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.encode = encode
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self.on_batch = on_batch
        self._queue: asyncio.Queue[tuple[list[str], asyncio.Future[np.ndarray]]] | None = None
        self._pending = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while self._queue is not None and not self._queue.empty():
            _, fut = self._queue.get_nowait()
            if not fut.done():
                fut.set_exception(Unavailable("The service is shutting down."))

    async def submit(self, texts: list[str]) -> np.ndarray:
        if self._queue is None:
            raise Unavailable("The encoder is not running yet (the service is starting).")
        if self._pending + len(texts) > self.max_queue:
            raise Unavailable(
                f"{self._pending} texts are already waiting for the encoder (limit "
                f"{self.max_queue}).",
                "Retry shortly, or send fewer requests at once.",
            )
        fut: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._pending += len(texts)
        await self._queue.put((texts, fut))
        return await fut

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        carry: tuple[list[str], asyncio.Future[np.ndarray]] | None = None
        while True:
            first = carry if carry is not None else await self._queue.get()
            carry = None
            batch = [first]
            n = len(first[0])
            deadline = loop.time() + self.max_wait
            while n < self.max_batch:
                timeout = deadline - loop.time()
                try:
                    item = self._queue.get_nowait() if timeout <= 0 else await asyncio.wait_for(
                        self._queue.get(), timeout
                    )
                except (asyncio.QueueEmpty, TimeoutError):
                    break
                if n + len(item[0]) > self.max_batch:
                    carry = item
                    break
                batch.append(item)
                n += len(item[0])
            await self._encode(batch, n)

    async def _encode(self, batch: list[tuple[list[str], asyncio.Future[np.ndarray]]], n: int) -> None:
        live = [(t, f) for t, f in batch if not f.done()]  # a timed-out request is skipped
        self._pending -= sum(len(t) for t, f in batch if f.done())
        if not live:
            return
        texts = [t for ts, _ in live for t in ts]
        try:
            X: Any = await asyncio.to_thread(self.encode, texts)
        except Exception as exc:  # every waiting request gets the encoder's error
            for _, f in live:
                if not f.done():
                    f.set_exception(exc)
        else:
            if self.on_batch is not None:
                self.on_batch(len(texts))
            start = 0
            for ts, f in live:
                if not f.done():
                    f.set_result(X[start : start + len(ts)])
                start += len(ts)
        finally:
            self._pending -= len(texts)
