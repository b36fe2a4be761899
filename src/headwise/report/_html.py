"""Assemble one self-contained HTML page (inline CSS, figures as data URIs, no scripts)."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InputError
from . import _figures as fg
from ._load import RUN_FILES, RunData, load_run

__all__ = ["build_report", "render_report", "write_report"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1b1b1b;background:#fff;padding:0 1rem}
h1{margin-bottom:.2rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem}
th,td{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}th{background:#f3f3f3}
td.l,th.l{text-align:left}img{max-width:100%;height:auto;display:block;margin:.6rem 0}
.note{color:#555;font-size:.9rem}.best{font-weight:bold;background:#eef7ee}
"""


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if not np.isfinite(v):
            return str(v)
        return f"{v:.4f}" if abs(v) < 100 else f"{v:.1f}"
    return html.escape(str(v))


def _table(cols: list[str], rows: list[list[Any]], *, best: int | None = None, left: int = 1) -> str:
    head = "".join(f'<th class="{"l" if i < left else ""}">{html.escape(c)}</th>' for i, c in enumerate(cols))
    body = []
    for r_i, row in enumerate(rows):
        cls = ' class="best"' if best is not None and r_i == best else ""
        cells = "".join(f'<td class="{"l" if i < left else ""}">{_fmt(v)}</td>' for i, v in enumerate(row))
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _leaderboard(run: RunData) -> str:
    linear = run.get("linear")
    if not linear or not linear.get("heads"):
        return ""
    heads = linear["heads"]
    names = sorted(heads, key=lambda n: -(heads[n].get("val_accuracy") or -1.0))
    rows = [
        [n, heads[n].get("val_accuracy"), heads[n].get("test_accuracy"), heads[n].get("macro_f1"), heads[n].get("fit_seconds")]
        for n in names
    ]
    return (
        "<h2>Leaderboard</h2><p class='note'>Linear probe; ranked by validation accuracy (the best "
        "head on validation is highlighted; test is reported, not used to choose).</p>"
        + _table(["head", "val accuracy", "test accuracy", "macro-F1", "fit seconds"], rows, best=0)
    )


def _trust(run: RunData) -> str:
    t = run.get("trust")
    if not t:
        return ""
    parts = [f"<h2>Calibration ({html.escape(str(t.get('head')))} head)</h2>"]
    b, a = t["metrics_before"], t["metrics_after"]
    keys = [("accuracy", "accuracy"), ("macro_f1", "macro-F1"), ("nll", "NLL"), ("brier", "Brier"),
            ("ece", "ECE (top-label)"), ("classwise_ece", "ECE (classwise)")]
    parts.append(
        f"<p class='note'>Temperature T = {t['temperature']:.4f}, fitted on {t['n_calibration']} "
        f"calibration rows held out from train; measured on {t['n_test']} test rows. "
        f"ECE binning: {html.escape(t['binning'])}.</p>"
    )
    parts.append(_table(["metric", "before (T = 1)", "after"], [[lbl, b[k], a[k]] for k, lbl in keys]))
    parts.append(_img(fg.reliability_figure(t["reliability"], t["binning"]), "reliability diagram"))
    arr = run.arrays
    labels = [str(c) for c in t.get("classes", [])]
    if "y_test" in arr and "proba_after" in arr and labels:
        y, pred = arr["y_test"].astype(int), arr["proba_after"].argmax(axis=1)
        parts.append("<h2>Errors</h2>")
        parts.append(_img(fg.confusion_figure(y, pred, labels), "confusion matrix"))
        acc = np.array([np.mean(pred[y == k] == k) if np.any(y == k) else np.nan for k in range(len(labels))])
        parts.append(_img(fg.per_class_figure(np.nan_to_num(acc), labels), "per-class accuracy"))
    conf = t.get("conformal") or {}
    if conf:
        parts.append("<h2>Conformal prediction sets</h2>")
        parts.append(
            "<p class='note'>Split conformal on the calibration rows (the same rows that fit T); "
            "LAC = 1 − p<sub>y</sub>, APS = adaptive sets; _mondrian = per-class thresholds.</p>"
        )
        parts.append(_img(fg.coverage_figure(conf), "coverage versus alpha"))
        rows = [
            [name, r["alpha"], r["coverage"], r["min_class_coverage"], r["mean_size"], r["empty_rate"]]
            for name, rs in conf.items()
            for r in rs
            if r["alpha"] in (0.05, 0.1)
        ]
        parts.append(_table(["variant", "α", "coverage", "worst class", "mean size", "empty"], rows))
        sizes = {k[len("set_size_") : -len("_a0.1")]: v for k, v in arr.items() if k.startswith("set_size_")}
        if sizes:
            parts.append(_img(fg.set_size_figure(sizes), "set size histogram"))
    return "".join(parts)


def _multilabel(run: RunData) -> str:
    m = run.get("multilabel")
    if not m or not m.get("per_label"):
        return ""
    a = float(m["alpha"])
    met = m["metrics"]
    parts = [
        f"<h2>Multi-label ({html.escape(str(m.get('head')))} head)</h2>",
        f"<p class='note'>{m['n_labels']} labels; fitted on {m['n_train']} rows, conformal sets "
        f"calibrated on {m['n_calibration']} held-out train rows, measured on {m['n_test']} test "
        f"rows ({m['n_test_labelled']} with at least one known label).</p>",
        _table(["metric", "test"], [["micro-F1", met.get("micro_f1")], ["macro-F1", met.get("macro_f1")],
                                    ["mAP", met.get("mean_average_precision")],
                                    ["subset accuracy", met.get("subset_accuracy")],
                                    ["Hamming loss", met.get("hamming_loss")]]),
        f"<h2>Conformal label sets at α = {a:g}</h2>",
        "<p class='note'>CRC controls the false-negative rate: the expected fraction of a row's "
        f"true labels missing from its set is at most α = {a:g} (rows with a label). LAC keeps "
        f"each true label with probability at least 1 − α = {1 - a:g}, label by label. Empirical "
        "values on the test rows; they scatter around the guarantee by sampling noise.</p>",
    ]  # fmt: skip
    guarantee = {"crc": f"E[FNR] ≤ {a:g}", "lac": f"per-label coverage ≥ {1 - a:g}"}
    rows = [[name.upper(), guarantee.get(name, ""), r["fnr"], 1 - r["fnr"], r["rows_fully_covered"],
             r["mean_label_coverage"], r["worst_label_coverage"], r["mean_set_size"], r["empty_rate"]]
            for name, r in m["sets"].items()]  # fmt: skip
    parts.append(_table(["sets", "guarantee", "FNR", "coverage (1 − FNR)", "rows fully covered",
                         "mean label coverage", "worst label", "mean set size", "empty"], rows, left=2))  # fmt: skip
    per = sorted(m["per_label"], key=lambda p: (-p["support"], str(p["label"])))
    parts.append("<h2>Per-label scores</h2><p class='note'>Test split, labels by support. F1, "
                 "precision and recall of the head's own decisions (its tuned thresholds or "
                 f"top-k); CRC / LAC coverage: fraction of the label's true occurrences kept in "
                 f"the α = {a:g} sets (– where undefined).</p>")  # fmt: skip
    parts.append(_table(["label", "support", "F1", "precision", "recall", "CRC coverage", "LAC coverage"],
                        [[p["label"], p["support"], p["f1"], p["precision"], p["recall"],
                          p["crc_coverage"], p["lac_coverage"]] for p in per]))  # fmt: skip
    scored = [p for p in per if p["f1"] is not None]
    if scored:
        f1 = np.array([p["f1"] for p in scored], dtype=float)
        uri = fg.per_class_figure(f1, [str(p["label"]) for p in scored], xlabel="F1",
                                  title="Per-label F1, test split (sorted)")  # fmt: skip
        parts.append(_img(uri, "per-label F1"))
    return "".join(parts)


def _ood(run: RunData) -> str:
    o = run.get("ood")
    if not o:
        return ""
    rows = [[m["method"], m["auroc"], m["false_alarm_rate"], m["detection_rate"]] for m in o["methods"]]
    return (
        f"<h2>Out-of-distribution detection</h2><p class='note'>{len(o['out_classes'])} classes held "
        f"out as OOD ({o['n_out']} test rows) vs {o['n_in']} known-class test rows; threshold at "
        f"α = {o['alpha']} from {o['n_calibration']} calibration rows.</p>"
        + _table(["score", "AUROC", "false alarms", "OOD detected"], rows)
    )


def _fewshot(run: RunData) -> str:
    f = run.get("fewshot")
    if not f or not f.get("heads"):
        return ""
    series = {n: (h["shots"], h["mean"], h.get("ci95")) for n, h in f["heads"].items()}
    uri = fg.curves_figure(series, "shots per class", "test accuracy", "Few-shot learning curves (mean ± 95% CI)", logx=True)
    return "<h2>Few-shot learning curves</h2>" + _img(uri, "few-shot learning curves")


def _active(run: RunData) -> str:
    a = run.get("active")
    if not a or not a.get("strategies"):
        return ""
    strategies = a["strategies"]
    series = {n: (c["n_labels"], c["mean"], c.get("ci95")) for n, c in strategies.items()}
    uri = fg.curves_figure(series, "labelled rows", "test accuracy",
                           "Active learning curves (mean ± 95% CI over seeds)")
    rows = [[n, c["aulc"]["mean"], c["aulc"]["ci95"], c["mean"][0], c["mean"][-1]]
            for n, c in strategies.items()]
    start = a.get("start")
    how = "the teacher alone (zero-shot start)" if start == 0 else f"{start} label(s) per class"
    return (
        "<h2>Active learning</h2>"
        f"<p class='note'>Head {html.escape(str(a.get('head')))}, from {html.escape(how)}, "
        f"{a.get('rounds')} rounds of {a.get('budget')} queries. AULC: area under the curve "
        "divided by the label range (mean accuracy over the budget).</p>"
        + _img(uri, "active learning curves")
        + _table(["strategy", "AULC", "±95%", "first", "last"], rows,
                 best=max(range(len(rows)), key=lambda i: rows[i][1]))
    )


def _incremental(run: RunData) -> str:
    inc = run.get("incremental")
    if not inc or not inc.get("heads"):
        return ""
    heads = inc["heads"]
    rows = [[n, h.get("average"), h.get("final"), h.get("forgetting")] for n, h in heads.items()]
    return (
        "<h2>Class-incremental</h2>"
        + _img(fg.incremental_figure(heads), "class-incremental accuracy")
        + _table(["head", "average", "final", "forgetting"], rows)
    )


def _sweep(run: RunData) -> str:
    s = run.get("sweep")
    if not s or not s.get("layers"):
        return ""
    series = {"validation": (s["layers"], s["val_accuracy"], None)}
    if s.get("test_accuracy"):
        series["test"] = (s["layers"], s["test_accuracy"], None)
    uri = fg.curves_figure(series, "layer", "accuracy", f"Layer sweep ({s.get('head', '?')} head)")
    return "<h2>Layer sweep</h2>" + _img(uri, "layer sweep")


_SECTIONS = (("linear.json", _leaderboard), ("trust.json", _trust),
             ("multilabel.json", _multilabel), ("ood.json", _ood),
             ("fewshot.json", _fewshot), ("active.json", _active),
             ("incremental.json", _incremental), ("sweep.json", _sweep))


def _section(run: RunData, name: str, render: Any) -> str:
    """One section's HTML; a file that parses but does not hold the layout headwise writes
    (edited by hand, another tool's) skips its section and is listed as unreadable."""
    try:
        out = str(render(run))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        run.problems.append(f"{name}: not the layout headwise writes ({type(exc).__name__}: {exc}); "
                            "section skipped")
        return ""
    if not out and name.rsplit(".", 1)[0] in run.docs:  # present, parsed, and nothing in it
        run.problems.append(f"{name}: holds no results in the layout headwise writes; section skipped")
    return out


def render_report(run: RunData) -> str:
    """The report page for a loaded run, as an HTML string."""
    sections = [_section(run, stem, fn) for stem, fn in _SECTIONS]
    if not any(sections) and run.problems:
        raise InputError(
            f"Nothing in {run.path} could be reported: {'; '.join(run.problems)}. Give the run "
            "folder that `headwise eval/fit --run-dir` wrote."
        )
    found = [n for n in RUN_FILES if (n.rsplit(".", 1)[0] in run.docs) or (n.endswith(".npz") and run.arrays)]
    missing = [f"{n} ({why})" for n, why in RUN_FILES.items() if n not in found]
    notes = f"<p class='note'>Files read: {html.escape(', '.join(found))}.</p>"
    if missing:
        notes += "<p class='note'>Not present (sections skipped): " + html.escape("; ".join(missing)) + ".</p>"
    for p in run.problems:
        notes += f"<p class='note'>Unreadable: {html.escape(p)}</p>"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>headwise report: {html.escape(run.path.name)}</title><style>{_CSS}</style>"
        "<link rel='icon' href='data:,'></head><body>"
        f"<h1>headwise report</h1><p class='note'>Run <code>{html.escape(str(run.path))}</code>, "
        f"made {stamp}.</p>{notes}{''.join(sections)}</body></html>\n"
    )


def write_report(run: RunData, out: str | Path) -> Path:
    """Write the report of a loaded run to ``out`` (temp file, then rename); files it could not
    use are in ``run.problems`` afterwards (and listed on the page)."""
    from .._atomic import atomic_write

    return atomic_write(out, render_report(run), what="Report")


def build_report(run_dir: str | Path, out: str | Path) -> Path:
    """Write the report for ``run_dir`` to ``out`` (temp file, then rename)."""
    return write_report(load_run(run_dir), out)
