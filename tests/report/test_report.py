"""The HTML report: sections present when their files are, absent otherwise; self-contained."""

from __future__ import annotations

import json
import re

import pytest

from headwise.exceptions import InputError
from headwise.report import build_report, load_run, render_report

pytest.importorskip("matplotlib")


def test_every_section_and_no_external_resources(full_run, tmp_path):
    out = build_report(full_run, tmp_path / "report.html")
    page = out.read_text()
    for title in ("Leaderboard", "Calibration", "Errors", "Conformal prediction sets",
                  "Out-of-distribution", "Few-shot learning curves", "Active learning",
                  "Class-incremental", "Layer sweep"):
        assert f"<h2>{title}" in page, title
    # reliability, confusion, per-class, coverage, set sizes, few-shot, active, incremental, sweep
    assert page.count('src="data:image/png;base64,') == 9
    assert not re.search(r'(src|href)="(?!data:)', page)  # nothing fetched from elsewhere
    assert "<script" not in page
    assert "15 equal-width bins" in page
    assert "Not present" not in page


def test_sections_skipped_when_files_absent(full_run):
    for name in ("fewshot.json", "sweep.json", "incremental.json", "linear.json", "ood.json",
                 "active.json"):
        (full_run / name).unlink()
    page = render_report(load_run(full_run))
    assert "Few-shot" not in page.split("</p>", 3)[-1] and "<h2>Layer sweep" not in page
    assert "<h2>Active learning" not in page
    assert "<h2>Calibration" in page and "Not present" in page


def test_only_protocol_files(full_run):
    for name in ("trust.json", "trust_arrays.npz"):
        (full_run / name).unlink()
    page = render_report(load_run(full_run))
    assert "<h2>Leaderboard" in page and "<h2>Calibration" not in page


def test_unreadable_file_is_reported_not_fatal(full_run):
    (full_run / "sweep.json").write_text("{not json")
    page = render_report(load_run(full_run))
    assert "Unreadable: sweep.json" in page


def test_leaderboard_ranked_by_validation(full_run):
    (full_run / "linear.json").write_text(json.dumps({"protocol": "linear", "heads": {
        "a": {"val_accuracy": 0.5, "test_accuracy": 0.9, "macro_f1": 0.5, "fit_seconds": 1.0},
        "b": {"val_accuracy": 0.6, "test_accuracy": 0.1, "macro_f1": 0.5, "fit_seconds": 1.0}}}))
    page = render_report(load_run(full_run))
    assert page.index('<td class="l">b</td>') < page.index('<td class="l">a</td>')


def test_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_run(tmp_path / "nope")
    with pytest.raises(InputError, match="none of the files"):
        load_run(tmp_path)
