"""Prometheus metrics in the text exposition format (version 0.0.4), without extra packages.

Requests by route, method and status; a request-latency histogram per route; a histogram of the
rows in each encoder batch; model versions and logged rows as gauges; writes by model and action.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


def _labels(**kv: object) -> str:
    def esc(v: object) -> str:
        return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in kv.items()) + "}" if kv else ""


class _Histogram:
    def __init__(self, buckets: Iterable[float]) -> None:
        self.buckets = tuple(buckets)
        self.counts = [0] * (len(self.buckets) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str, **labels: object) -> list[str]:
        out, running = [], 0
        for b, c in zip(self.buckets, self.counts, strict=False):
            running += c
            out.append(f"{name}_bucket{_labels(**labels, le=b)} {running}")
        out.append(f"{name}_bucket{_labels(**labels, le='+Inf')} {self.n}")
        out.append(f"{name}_sum{_labels(**labels)} {self.total}")
        out.append(f"{name}_count{_labels(**labels)} {self.n}")
        return out


class Metrics:
    """Thread-safe counters and histograms; :meth:`render` writes the exposition text.

    >>> m = Metrics()
    >>> m.request("/health/live", "GET", 200, 0.002)
    >>> 'headwise_requests_total{route="/health/live",method="GET",status="200"} 1' in m.render()
    True
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: defaultdict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[str, _Histogram] = {}
        self.batches = _Histogram(_BATCH_BUCKETS)
        self.predict_batches = _Histogram(_BATCH_BUCKETS)
        self.writes: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.gauges: Callable[[], list[tuple[str, dict[str, object], float]]] | None = None

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(route, method, status)] += 1
            hist = self.latency.get(route)
            if hist is None:
                hist = self.latency[route] = _Histogram(_LATENCY_BUCKETS)
            hist.observe(seconds)

    def batch(self, rows: int) -> None:
        with self._lock:
            self.batches.observe(rows)

    def predict_batch(self, rows: int) -> None:
        with self._lock:
            self.predict_batches.observe(rows)

    def write(self, model: str, action: str) -> None:
        with self._lock:
            self.writes[(model, action)] += 1

    def render(self) -> str:
        with self._lock:
            lines = [
                "# HELP headwise_requests_total HTTP requests by route template, method and status.",
                "# TYPE headwise_requests_total counter",
            ]
            for (route, method, status), n in sorted(self.requests.items()):
                lines.append(f"headwise_requests_total{_labels(route=route, method=method, status=status)} {n}")
            lines += [
                "# HELP headwise_request_duration_seconds Request latency by route template.",
                "# TYPE headwise_request_duration_seconds histogram",
            ]
            for route, hist in sorted(self.latency.items()):
                lines += hist.lines("headwise_request_duration_seconds", route=route)
            lines += [
                "# HELP headwise_encoder_batch_rows Texts per encoder forward pass (micro-batching).",
                "# TYPE headwise_encoder_batch_rows histogram",
                *self.batches.lines("headwise_encoder_batch_rows"),
                "# HELP headwise_predict_batch_rows Rows per head pass (requests answered together).",
                "# TYPE headwise_predict_batch_rows histogram",
                *self.predict_batches.lines("headwise_predict_batch_rows"),
                "# HELP headwise_writes_total Accepted writes by model and action.",
                "# TYPE headwise_writes_total counter",
            ]
            for (model, action), n in sorted(self.writes.items()):
                lines.append(f"headwise_writes_total{_labels(model=model, action=action)} {n}")
        gauges = self.gauges() if self.gauges is not None else []
        seen: set[str] = set()
        for name, labels, value in gauges:
            if name not in seen:
                seen.add(name)
                lines.append(f"# TYPE {name} gauge")
            lines.append(f"{name}{_labels(**labels)} {value}")
        return "\n".join(lines) + "\n"
