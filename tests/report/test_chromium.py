"""The report renders in headless Chromium: a non-blank screenshot and no console errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from headwise.report import build_report

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _render(page: Path, shot: Path) -> list[str]:
    """Screenshot ``page``; return every console message Chromium logged.

    Headless Chromium logs console messages (and uncaught exceptions, and failed resource loads)
    as ``INFO:CONSOLE`` lines with ``--log-level=0`` but does not keep their level, so every
    console line counts: the report has no scripts, so any message at all means a problem.
    """
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--hide-scrollbars", "--window-size=1200,2400", "--enable-logging=stderr", "--log-level=0",
        f"--screenshot={shot}", page.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert shot.is_file() and shot.stat().st_size > 0, proc.stderr[-2000:]
    return [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln]


def _not_blank(png: Path) -> float:
    import matplotlib.image as mpimg

    img = mpimg.imread(png)
    return float(np.std(img[..., :3]))


def test_report_screenshot_has_content_and_no_console_errors(full_run, tmp_path):
    pytest.importorskip("matplotlib")
    page = build_report(full_run, tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    errors = _render(page, shot)
    assert errors == []
    assert _not_blank(shot) > 0.02


def test_console_error_capture_works(tmp_path):
    """Positive control: a page that logs an error must be caught by the same harness."""
    page = tmp_path / "bad.html"
    page.write_text("<html><body><h1>x</h1><script>console.error('boom')</script></body></html>")
    errors = _render(page, tmp_path / "bad.png")
    assert any("boom" in e for e in errors)
