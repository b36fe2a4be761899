"""`headwise eval --protocol active` end to end with the hash encoder, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

from .test_protocol_cli import H, _ok, _one_error_line, invoke, toy  # noqa: F401


def test_active_protocol_writes_curves_and_the_report_draws_them(toy: Path, tmp_path: Path):  # noqa: F811
    run = tmp_path / "run"
    _ok(invoke("eval", str(toy), "--protocol", "active", "--heads", "ncm", "--encoder", "hash",
               "--strategies", "random,margin", "--rounds", "2", "--budget", "3", "--seeds", "2",
               "--run-dir", str(run)))
    doc = json.loads((run / "active.json").read_text())
    assert doc["protocol"] == "active" and doc["dataset"] == "toy.jsonl" and doc["head"] == "ncm"
    assert set(doc["strategies"]) == {"random", "margin"}
    k = doc["strategies"]["margin"]["n_labels"]
    assert k[1] - k[0] == 3 and len(k) == 3
    from headwise.report import build_report

    page = build_report(run, tmp_path / "r.html").read_text()
    assert "<h2>Active learning" in page


def test_zero_shot_start_with_dho(toy: Path, tmp_path: Path):  # noqa: F811
    p = _ok(invoke("eval", str(toy), "--protocol", "active", "--encoder", "hash", "--start", "0",
                   "--strategies", "pcoreset", "--rounds", "1", "--seeds", "1", "--json"))
    doc = json.loads(p.stdout)
    assert doc["head"] == "dho" and doc["start"] == 0
    assert doc["strategies"]["pcoreset"]["n_labels"][0] == 0


def test_active_errors_are_one_line(toy: Path):  # noqa: F811
    msg = _one_error_line(invoke("eval", str(toy), "--protocol", "active", "--encoder", "hash",
                                 "--heads", "ncm", "--strategies", "badge"))
    assert "Unknown strategy 'badge'" in msg
    msg = _one_error_line(invoke("eval", str(toy), "--protocol", "active", "--encoder", "hash",
                                 "--heads", "ncm,lda"))
    assert "single --head" in msg
