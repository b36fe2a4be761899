"""`fit` / `eval` / `predict --alpha` on a table whose label column holds a list per row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import VOCAB, one_error_line, run_cli


@pytest.fixture
def ml_jsonl(tmp_path: Path) -> Path:
    """Texts mixing the words of one or two topics; ``labels`` lists those topics."""
    rng = np.random.default_rng(0)
    names = sorted(VOCAB)
    rows = []
    for i in range(240):
        k = 1 + int(rng.random() < 0.4)
        topics = sorted(rng.choice(names, size=k, replace=False).tolist())
        words = [w for t in topics for w in rng.choice(VOCAB[t].split(), size=5).tolist()]
        split = "test" if i % 4 == 0 else ("validation" if i % 4 == 1 else "train")
        rows.append({"text": " ".join(words) + f" item{i}", "labels": topics, "split": split})
    p = tmp_path / "ml.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def test_fit_eval_predict_multilabel(ml_jsonl: Path, tmp_path: Path) -> None:
    model = tmp_path / "ml.safetensors"
    p = run_cli("fit", str(ml_jsonl), "--encoder", "hash", "--head", "mlridge", "--calibrate",
                "--out", str(model), "--json")
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["multilabel"] and res["n_labels"] == 3 and res["n_calibration"] > 0
    assert res["validation_micro_f1"] > 0.7

    p = run_cli("eval", str(ml_jsonl), "--model", str(model), "--json")
    assert p.returncode == 0, p.stderr
    ev = json.loads(p.stdout)
    assert ev["split"] == "test" and ev["n"] == 60 and ev["micro_f1"] > 0.7
    assert {r["label"] for r in ev["per_label"]} == set(VOCAB)
    assert set(ev) >= {"macro_f1", "subset_accuracy", "hamming_loss", "mean_average_precision"}

    p = run_cli("predict", str(ml_jsonl), "--model", str(model), "--split", "test", "--alpha", "0.1", "--json")
    assert p.returncode == 0, p.stderr
    recs = json.loads(p.stdout)
    assert len(recs) == 60 and all(set(r["label_set"]) <= set(VOCAB) for r in recs)
    assert all(set(r["labels"]) <= set(VOCAB) for r in recs)


def test_multilabel_refusals(ml_jsonl: Path, tmp_path: Path) -> None:
    msg = one_error_line(run_cli("fit", str(ml_jsonl), "--encoder", "hash", "--head", "lda",
                                 "--out", str(tmp_path / "x.safetensors")))  # fmt: skip
    assert "multi-label" in msg and "mlridge" in msg
    assert not (tmp_path / "x.safetensors").exists()
    msg = one_error_line(run_cli("eval", str(ml_jsonl), "--encoder", "hash", "--protocol", "linear"))
    assert "list of labels per row" in msg
    model = tmp_path / "plain.safetensors"
    assert run_cli("fit", str(ml_jsonl), "--encoder", "hash", "--head", "mlknn", "--out", str(model)).returncode == 0
    msg = one_error_line(run_cli("predict", str(ml_jsonl), "--model", str(model), "--alpha", "0.1"))
    assert "--calibrate" in msg
    msg = one_error_line(run_cli("predict", str(ml_jsonl), "--model", str(model), "--out", str(tmp_path / "p.csv")))
    assert ".jsonl" in msg


def test_fit_run_dir_and_report_show_per_label_scores_and_coverage(ml_jsonl: Path, tmp_path: Path) -> None:
    """`fit --calibrate --run-dir` on multi-label data writes multilabel.json (test split,
    per-label F1/precision/recall/support, set FNR and coverage at the model's α), and
    `headwise report` turns it into the per-label and label-set sections."""
    pytest.importorskip("matplotlib")
    run, model = tmp_path / "RUN", tmp_path / "ml.safetensors"
    p = run_cli("fit", str(ml_jsonl), "--encoder", "hash", "--head", "mlridge", "--calibrate",
                "--alpha", "0.2", "--run-dir", str(run), "--out", str(model), "--json")  # fmt: skip
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    doc = json.loads((run / "multilabel.json").read_text())
    assert doc["alpha"] == 0.2 and doc["n_test"] == 60 and res["test_fnr_at_alpha_0.2"] == doc["sets"]["crc"]["fnr"]
    assert {r["label"] for r in doc["per_label"]} == set(VOCAB)
    assert sum(r["support"] for r in doc["per_label"]) >= 60
    for r in doc["per_label"]:
        assert set(r) >= {"f1", "precision", "recall", "support", "crc_coverage", "lac_coverage"}
    assert 0.0 <= doc["sets"]["crc"]["fnr"] <= 1.0

    out = tmp_path / "report.html"
    p = run_cli("report", str(run), "--out", str(out))
    assert p.returncode == 0, p.stderr
    page = out.read_text()
    assert "<h2>Per-label scores" in page and "<h2>Conformal label sets at α = 0.2" in page
    assert "E[FNR] ≤ 0.2" in page and "per-label coverage ≥ 0.8" in page

    msg = one_error_line(run_cli("fit", str(ml_jsonl), "--encoder", "hash", "--head", "mlridge",
                                 "--run-dir", str(tmp_path / "R2"), "--out", str(tmp_path / "y.safetensors")))  # fmt: skip
    assert "--calibrate" in msg and not (tmp_path / "R2").exists()
