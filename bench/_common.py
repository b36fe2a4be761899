"""Shared benchmark helpers: machine description, repeated timing, peak memory, Markdown."""

from __future__ import annotations

import os
import platform
import re
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def machine() -> str:
    """One Markdown paragraph: cores, BLAS kernels (threadpoolctl), versions, load average."""
    import numpy as np
    import scipy
    import sklearn
    from threadpoolctl import threadpool_info

    blas = sorted(
        {f"{i['internal_api']} {i.get('version', '')} ({i.get('architecture', '?')}, "
         f"{i['num_threads']} threads)" for i in threadpool_info()}
    )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"Machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, scikit-learn {sklearn.__version__}; "
        f"BLAS: {'; '.join(blas)}; load average at start {load}."
    )


def command() -> str:
    return "python " + " ".join([os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]])


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    """Median seconds over ``repeats`` calls, all timings, and the last result."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


def peak_mib(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Peak traced allocation (numpy buffers included) while ``fn`` runs, in MiB."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        out = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20, out


def md_table(columns: list[str], rows: list[list[Any]]) -> str:
    def fmt(v: Any) -> str:
        if v is None:
            return "–"
        if isinstance(v, float):
            if v == 0:
                return "0"
            return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def write_fragment(name: str, text: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def replace_section(text: str, tag: str, key: str, body: str) -> str:
    """``text`` with the block between ``<!-- {tag} {key} -->`` and ``<!-- /{tag} {key} -->``
    replaced by ``body`` (appended as a new block if absent): one fragment, several runs."""
    start, end = f"<!-- {tag} {key} -->", f"<!-- /{tag} {key} -->"
    block = f"{start}\n{body}\n{end}"
    if start in text:
        return re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    return text.rstrip() + "\n\n" + block + "\n"
