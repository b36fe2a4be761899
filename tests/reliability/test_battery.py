"""The reliability battery: every bad input exits 1 with one line, and leaves the disk clean.

For each case: exit code 1, no traceback, exactly one error line on stderr (plus the CLI's
"(set HEADWISE_DEBUG=1 ...)" hint), nothing outside the cache changed, no temp files anywhere,
and ``cache verify`` clean (or, for cases that damage the cache on purpose, reporting only that
damage).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from battery_helpers import HINT, run_in_process, snapshot, temp_files
from cases import CASES, Case, make_dirs_for

from headwise.store import EmbeddingStore


def check_one_line(out, case: Case) -> str:
    assert out.exception is None, f"{case.id}: uncaught {out.exception!r}"
    assert out.code == 1, f"{case.id}: exit {out.code}\n{out.stdout}\n{out.stderr}"
    assert "Traceback" not in out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith(HINT), f"{case.id}: {out.stderr!r}"
    assert len(lines) == 2, f"{case.id}: {len(lines) - 1} error lines: {out.stderr!r}"
    return lines[0]


def check_disk(ws: Path, before: dict, case: Case) -> None:
    import os

    cache = Path(os.environ["HEADWISE_CACHE_DIR"])
    after = snapshot(ws, ws / "cache")
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert not changed, f"{case.id}: changed outside the cache: {changed}"
    assert not temp_files(ws), f"{case.id}: temp files left: {temp_files(ws)}"
    if not cache.is_dir():
        return
    results = EmbeddingStore(cache).verify()
    if case.damaged:
        assert any(not r.ok for r in results), f"{case.id}: the damage went unnoticed"
        assert all(not r.strays for r in results), f"{case.id}: leftovers {results}"
    else:
        assert all(r.ok for r in results), f"{case.id}: verify {results}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, workspace: Path) -> None:
    make_dirs_for(case.id, workspace)
    args = case.setup(workspace)
    before = snapshot(workspace, workspace / "cache")
    rows_before = _cached_rows()
    out = run_in_process(args, {})
    message = check_one_line(out, case)
    assert case.match.lower() in message.lower(), f"{case.id}: {message!r}"
    check_disk(workspace, before, case)
    if "mismatch" in case.id:  # refused before a single row was embedded
        assert _cached_rows() == rows_before


def _cached_rows() -> int:
    import os

    return sum(e.n for e in EmbeddingStore(os.environ["HEADWISE_CACHE_DIR"]).entries())


def test_battery_is_large_enough() -> None:
    assert len(CASES) + 12 >= 60  # plus the permission, mount and JSON cases in test_system.py


def test_json_output_stays_valid_json(workspace: Path) -> None:
    out = run_in_process(["cache", "list", "--json"], {})
    assert out.code == 0
    json.loads(out.stdout)
