"""The HTML report: sections present when their files are, absent otherwise; self-contained."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from headwise.exceptions import InputError
from headwise.report import build_report, load_run, render_report

pytest.importorskip("matplotlib")


def test_every_section_and_no_external_resources(full_run, tmp_path):
    out = build_report(full_run, tmp_path / "report.html")
    page = out.read_text()
    for title in ("Leaderboard", "Calibration", "Errors", "Conformal prediction sets",
                  "Out-of-distribution", "Few-shot learning curves", "Active learning",
                  "Class-incremental", "Layer sweep", "Multi-label", "Conformal label sets",
                  "Per-label scores"):
        assert f"<h2>{title}" in page, title
    # reliability, confusion, per-class, coverage, set sizes, per-label F1, few-shot, active,
    # incremental, sweep
    assert page.count('src="data:image/png;base64,') == 10
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


@pytest.mark.parametrize(("name", "content"), [
    ("linear.json", {"protocol": "linear", "heads": "oops"}),
    ("fewshot.json", {"heads": {"ncm": {"mean": "x"}}}),
    ("trust.json", {"calibration": 3}),
])
def test_a_file_with_another_layout_skips_its_section_not_the_report(full_run, name, content):
    """A file that parses but is not what headwise writes used to end the report in a
    TypeError traceback; the other sections are still drawn."""
    (full_run / name).write_text(json.dumps(content))
    run = load_run(full_run)
    page = render_report(run)
    assert any(p.startswith(f"{name}: not the layout headwise writes") for p in run.problems)
    assert f"Unreadable: {name}: not the layout" in page
    assert "<h2>Layer sweep" in page


def test_a_run_whose_only_files_are_unreadable_says_which(tmp_path):
    (tmp_path / "linear.json").write_text("{not json")
    with pytest.raises(InputError, match=r"holds no readable report file: linear.json: JSONDecodeError"):
        load_run(tmp_path)


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


def test_multilabel_section_shows_per_label_scores_and_set_coverage(full_run):
    """The per-label table (F1, precision, recall, support) and the label sets' empirical FNR
    and coverage at the model's α are in the page, with the numbers of multilabel.json."""
    doc = json.loads((full_run / "multilabel.json").read_text())
    page = render_report(load_run(full_run))
    section = page[page.index("<h2>Multi-label"):page.index("<h2>Out-of-distribution")]
    assert "<th class=\"\">F1</th><th class=\"\">precision</th><th class=\"\">recall</th>" in section
    for p in doc["per_label"]:
        assert f'<td class="l">{p["label"]}</td><td class="">{p["support"]}</td>' in section
        assert f"{p['f1']:.4f}" in section and f"{p['precision']:.4f}" in section
    crc = doc["sets"]["crc"]
    assert "E[FNR] ≤ 0.1" in section and f"{crc['fnr']:.4f}" in section and f"{1 - crc['fnr']:.4f}" in section
    assert f"{doc['sets']['lac']['worst_label_coverage']:.4f}" in section
    # most supported label first
    supports = [p["support"] for p in doc["per_label"]]
    first = doc["per_label"][int(np.argmax(supports))]["label"]
    rows = section[section.index("<h2>Per-label scores"):]
    assert rows.index(f'<td class="l">{first}</td>') == min(
        rows.index(f'<td class="l">{p["label"]}</td>') for p in doc["per_label"])


def test_multilabel_summary_numbers_match_direct_computation():
    """multilabel_run_summary agrees with sklearn's per-label precision/recall/F1 and with the
    conformal sets built directly; the CRC sets' FNR stays near α on exchangeable test rows."""
    from sklearn.metrics import f1_score, precision_score, recall_score

    from headwise.trust import MultiLabelConformal, false_negative_rate
    from headwise.workflows import fit_multilabel, multilabel_run_summary

    rng = np.random.default_rng(3)
    W = rng.normal(size=(6, 4))
    X = rng.normal(size=(3000, 6))
    Y = (X @ W + rng.normal(scale=1.0, size=(3000, 4)) > 0.8).astype(int)
    names = np.array(["a", "b", "c", "d"])
    lists = [names[np.flatnonzero(r)].tolist() for r in Y]
    fit = fit_multilabel("mlridge", {}, X[:1000], lists[:1000], calib_frac=0.5)
    s = multilabel_run_summary(fit, X[1000:], lists[1000:], 0.1)
    P = fit.head.predict(X[1000:])
    Yt = Y[1000:]
    got = {k: [p[k] for p in s["per_label"]] for k in ("f1", "precision", "recall", "support")}
    np.testing.assert_allclose(got["f1"], f1_score(Yt, P, average=None))
    np.testing.assert_allclose(got["precision"], precision_score(Yt, P, average=None))
    np.testing.assert_allclose(got["recall"], recall_score(Yt, P, average=None))
    assert got["support"] == Yt.sum(axis=0).tolist()
    crc = MultiLabelConformal.from_calibration(fit.head, fit.cal_logits, fit.cal_targets, "crc")
    sets = crc.predict_set(X[1000:], 0.1)
    assert s["sets"]["crc"]["fnr"] == pytest.approx(false_negative_rate(sets, Yt))
    assert s["sets"]["crc"]["mean_set_size"] == pytest.approx(sets.sum(axis=1).mean())
    assert s["sets"]["crc"]["fnr"] <= 0.1 + 0.03  # 2000 test rows, 500 calibration rows
    kept = (sets * Yt).sum(axis=0) / Yt.sum(axis=0)
    np.testing.assert_allclose([p["crc_coverage"] for p in s["per_label"]], kept)
    lac = [p["lac_coverage"] for p in s["per_label"]]
    assert min(lac) >= 0.9 - 0.05 and s["sets"]["lac"]["worst_label_coverage"] == pytest.approx(min(lac))


@pytest.mark.parametrize("content", [[], {"x": 1}, {"heads": None}])
def test_a_run_with_nothing_reportable_is_an_error_not_an_empty_page(tmp_path, content):
    # '[]' in linear.json wrote an empty page with exit 0 and no warning
    (tmp_path / "linear.json").write_text(json.dumps(content))
    with pytest.raises(InputError, match=r"Nothing in .* could be reported: linear.json: "):
        render_report(load_run(tmp_path))
