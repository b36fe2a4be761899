"""Predictions for the requests that reach the predict step together, in one pass.

When an encoder batch finishes, every request in it resumes in the same turn of the event loop.
Each hands its rows to :meth:`PredictCoalescer.predict`; the first schedules a flush for the next
turn, by which time the others have joined, so a micro-batch of N one-text requests costs one
``head.logits`` call (with its input validation), one softmax and one score matrix instead of N.
Requests are grouped by model state, so a write that lands meanwhile never mixes two versions.
Nothing waits on a timer: a lone request is answered in the very next turn.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ._predict import PredictJob, predict_many

__all__ = ["PredictCoalescer"]

_Pending = tuple[Any, PredictJob, str, str, "asyncio.Future[list[dict[str, Any]]]"]


class PredictCoalescer:
    """Gather ``predict(state, job, ...)`` calls made in one loop turn into one :func:`predict_many`.

    ``on_batch(rows)`` (optional) is told the rows of every pass, for the metrics.
    """

    def __init__(self, on_batch: Any = None) -> None:
        self.on_batch = on_batch
        self._pending: list[_Pending] = []
        self._scheduled = False

    async def predict(
        self, state: Any, job: PredictJob, *, method: str, ood_method: str
    ) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[list[dict[str, Any]]] = loop.create_future()
        self._pending.append((state, job, method, ood_method, fut))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await fut

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        groups: dict[tuple[int, str, str], list[_Pending]] = {}
        for item in pending:
            if not item[4].done():  # a cancelled request (timeout, client gone) is skipped
                groups.setdefault((id(item[0]), item[2], item[3]), []).append(item)
        for (_, method, ood_method), items in groups.items():
            state = items[0][0]
            try:
                results = predict_many(state, [it[1] for it in items], method=method, ood_method=ood_method)
            except Exception:  # noqa: BLE001 - answer one by one, so only the faulty request fails
                results = None
            if self.on_batch is not None and results is not None:
                self.on_batch(sum(it[1].X.shape[0] for it in items))
            for k, (_, job, _, _, fut) in enumerate(items):
                if fut.done():
                    continue
                if results is not None:
                    fut.set_result(results[k])
                    continue
                try:
                    fut.set_result(predict_many(state, [job], method=method, ood_method=ood_method)[0])
                except Exception as exc:  # noqa: BLE001 - the request's own error, raised in it
                    fut.set_exception(exc)
