"""A short run of the crash harness (bench/crash.py --quick): kill -9, resume, compare, verify."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.slow
def test_killed_embeds_resume_bitwise_identical_and_clean(shared_data: Path) -> None:
    """The crash bench embeds 20 Newsgroups texts from the shared data (skipped without it)."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    proc = subprocess.run(
        [sys.executable, "crash.py", "--quick", "--out", "-"],
        cwd=BENCH, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHONPATH": src},
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["trials"] == 3
    assert summary["bitwise_identical"] == 3 and summary["verify_clean"] == 3
    # a kill loses at most the shard in flight (256 rows, or a larger one of a fast encoder);
    # losing more would mean committed shards were lost too
    assert summary["max_rows_lost"] <= max(256, summary["largest_shard_started"])
    assert "skipped" in summary["disk_full"] or (
        "one line" in summary["disk_full"] and "is bitwise identical" in summary["disk_full"]
        and "NOT" not in summary["disk_full"]
    )
