"""A light HTTP/1.1 load generator: raw asyncio streams, keep-alive, requests encoded up front.

The service benchmark measures the server, so the client must cost it as little CPU as possible on
the same machine: an httpx ``AsyncClient`` spent about a core at 32 requests in flight here, a
core the server then did not have. This client does nothing per request but write prepared bytes
and read one reply (status line, headers, ``Content-Length`` body); its own CPU time is measured
and reported next to the results. It runs on uvloop when that is installed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import numpy as np

__all__ = ["cpu_seconds", "encode_posts", "run_load"]


def encode_posts(url: str, path: str, bodies: Sequence[dict[str, Any]]) -> list[bytes]:
    """Each body as the bytes of one keep-alive ``POST path`` (JSON)."""
    host = urlsplit(url).netloc
    out = []
    for body in bodies:
        data = json.dumps(body, separators=(",", ":")).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        )
        out.append(head.encode("latin-1") + data)
    return out


async def _reply(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _load(url: str, requests: Sequence[bytes], n: int, conc: int, warmup: int) -> dict[str, Any]:
    parts = urlsplit(url)
    lat: list[float] = []
    kinds: dict[str, int] = {}
    counter = iter(range(n))

    async def worker(first: int) -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            for i in range(first):  # warm-up (not timed) on this connection
                writer.write(requests[i % len(requests)])
                await _reply(reader)
            await start.wait()  # every connection is open and warm before the clock starts
            for i in counter:
                t0 = time.perf_counter()
                try:
                    writer.write(requests[i % len(requests)])
                    status, body = await _reply(reader)
                    kind = None if status == 200 else f"HTTP {status}: {body[:120]!r}"
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    kind = f"{type(exc).__name__}: {exc}"[:160]
                    writer.close()
                    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
                lat.append(time.perf_counter() - t0)
                if kind is not None:
                    kinds[kind] = kinds.get(kind, 0) + 1
        finally:
            writer.close()

    start = asyncio.Barrier(conc + 1)
    tasks = [asyncio.create_task(worker(max(1, warmup // conc))) for _ in range(conc)]
    await asyncio.wait_for(start.wait(), 300)
    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*tasks)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    errors = sum(kinds.values())
    lat_ms = np.array(lat) * 1000
    return {
        "n": n, "errors": errors, "error_kinds": kinds, "wall": wall, "rps": (n - errors) / wall,
        "p50": float(np.percentile(lat_ms, 50)), "p99": float(np.percentile(lat_ms, 99)),
        "client_cpu_s": cpu,
    }  # fmt: skip


def run_load(url: str, requests: Sequence[bytes], n: int, conc: int, warmup: int = 64) -> dict[str, Any]:
    """``n`` requests (cycling through ``requests``) with ``conc`` of them in flight.

    Returns errors (non-200 replies or transport failures, by kind), wall seconds, requests per
    second, p50/p99 latency in ms, and ``client_cpu_s``: this process's CPU time during the run.
    """
    try:  # uvloop (in the serve extra) spends less of the shared cores on the client
        import uvloop

        factory: Any = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - without the serve extra
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(_load(url, requests, n, conc, warmup))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``)."""
    import os

    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
