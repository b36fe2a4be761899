"""`fit --calibrate`, `predict --alpha`, `ood` and `report` end to end (hash encoder)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_helpers import one_error_line, run_cli, toy_rows

from headwise.heads import load_head
from headwise.trust import load_calibrated_head


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A calibrated LDA head on 3-class toy text, with a run directory."""
    tmp = tmp_path_factory.mktemp("trust-cli")
    data = tmp / "toy.jsonl"
    rows = toy_rows(n_per_class=80)
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    model, run = tmp / "m.safetensors", tmp / "RUN"
    env = {"HEADWISE_CACHE_DIR": str(tmp / "cache")}
    p = run_cli("fit", str(data), "--head", "lda", "--encoder", "hash", "--out", str(model),
                "--calibrate", "--calib-frac", "0.25", "--run-dir", str(run), "--json", env=env)
    assert p.returncode == 0, p.stderr
    return data, model, run, env, json.loads(p.stdout)


def test_fit_calibrate_stores_calibration_and_run(fitted):
    data, model, run, _, result = fitted
    assert result["n_calibration"] == 45 and result["n_train"] == 135
    head, cal = load_calibrated_head(model)
    assert cal is not None and cal.temperature == pytest.approx(result["temperature"])
    assert cal.X_cal.shape == (45, head.n_features_in_)
    assert set(np.unique(cal.y_cal)) == set(head.classes_)
    load_head(model)  # still an ordinary head file
    assert (run / "trust.json").stat().st_mode & 0o044  # readable by others (mkstemp gives 0600)
    trust = json.loads((run / "trust.json").read_text())
    assert trust["n_test"] == 60 and trust["binning"] == "15 equal-width bins on [0, 1]"
    assert {"lac", "aps", "lac_mondrian", "aps_mondrian"} <= set(trust["conformal"])
    with np.load(run / "trust_arrays.npz") as npz:
        assert npz["proba_after"].shape == (60, 3) and npz["y_test"].shape == (60,)


def test_predict_prints_sets(fitted, tmp_path):
    data, model, _, env, _ = fitted
    out = tmp_path / "p.jsonl"
    p = run_cli("predict", str(data), "--model", str(model), "--alpha", "0.1", "--method", "aps",
                "--mondrian", "--ood", "energy", "--split", "test", "--out", str(out), env=env)
    assert p.returncode == 0, p.stderr
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(recs) == 60
    for r in recs:
        assert isinstance(r["prediction_set"], list) and 0 <= r["probability"] <= 1
        assert isinstance(r["ood"], bool) and 0 < r["ood_pvalue"] <= 1
        if r["label"] in r["prediction_set"]:  # the most probable label is listed first
            assert r["prediction_set"][0] == r["label"]
    covered = np.mean([r["label"] in r["prediction_set"] or not r["prediction_set"] for r in recs])
    assert covered > 0.5
    p = run_cli("predict", str(data), "--model", str(model), "--alpha", "0.2", "--split", "test", env=env)
    assert p.returncode == 0 and "prediction set" in p.stdout and "coverage at α=0.2" in p.stdout


def test_report_renders(fitted, tmp_path):
    _, _, run, env, _ = fitted
    pytest.importorskip("matplotlib")
    (run / "linear.json").write_text(json.dumps({"protocol": "linear", "heads": {
        "lda": {"val_accuracy": 0.9, "test_accuracy": 0.88, "macro_f1": 0.87, "fit_seconds": 0.1}}}))
    out = tmp_path / "r.html"
    p = run_cli("report", str(run), "-o", str(out), env=env)
    assert p.returncode == 0, p.stderr
    page = out.read_text()
    assert page.count("data:image/png;base64,") >= 5 and "Leaderboard" in page


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (("--alpha", "0"), "open interval (0, 1)"),
        (("--alpha", "1.5"), "open interval (0, 1)"),
        (("--alpha", "0.1", "--method", "bogus"), "--method must be one of"),
        (("--ood", "energy"), "give it with --alpha"),
        (("--alpha", "0.1", "--ood", "odin"), "--ood must be one of"),
    ],
)
def test_predict_bad_options(fitted, extra, needle):
    data, model, _, env, _ = fitted
    assert needle in one_error_line(run_cli("predict", str(data), "--model", str(model), *extra, env=env))


def test_uncalibrated_model_with_alpha(fitted, tmp_path):
    data, _, _, env, _ = fitted
    plain = tmp_path / "plain.safetensors"
    assert run_cli("fit", str(data), "--head", "ncm", "--encoder", "hash", "--out", str(plain), env=env).returncode == 0
    msg = one_error_line(run_cli("predict", str(data), "--model", str(plain), "--alpha", "0.1", env=env))
    assert "holds no calibration" in msg and "--calibrate" in msg


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (("--calibrate", "--calib-frac", "1.2"), "--calib-frac"),
        (("--run-dir", "RUNX"), "add --calibrate"),
    ],
)
def test_fit_bad_options(fitted, extra, needle):
    data, _, _, env, _ = fitted
    assert needle in one_error_line(run_cli("fit", str(data), "--encoder", "hash", *extra, env=env))


def test_report_errors(tmp_path):
    assert "does not exist" in one_error_line(run_cli("report", str(tmp_path / "nope")))
    (tmp_path / "empty").mkdir()
    assert "none of the files" in one_error_line(run_cli("report", str(tmp_path / "empty")))


def test_ood_command(tmp_path):
    rows = toy_rows(n_per_class=60)
    extra = {"sport2": "tennis racket serve volley court ace deuce umpire net lob"}
    rng = np.random.default_rng(1)
    for i in range(60):
        words = extra["sport2"].split()
        rows.append({"text": " ".join(rng.choice(words, 6)) + f" item{i}", "label": "sport2",
                     "split": "test" if i % 4 == 0 else "train"})
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = tmp_path / "RUN"
    p = run_cli("ood", str(data), "--encoder", "hash", "--out-classes", "sport2", "--run-dir", str(run), "--json")
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["out_classes"] == ["sport2"] and {m["method"] for m in res["methods"]} == {"msp", "energy", "mahalanobis"}
    assert all(0 <= m["auroc"] <= 1 for m in res["methods"])
    assert json.loads((run / "ood.json").read_text())["n_out"] == 15
    # a held-out class without test rows: "X has 0 rows; at least 1 needed"
    no_test = tmp_path / "no_test.jsonl"
    no_test.write_text("".join(json.dumps({**r, "split": "train"} if r["label"] == "sport2" else r) + "\n"
                               for r in rows))  # fmt: skip
    msg = one_error_line(run_cli("ood", str(no_test), "--encoder", "hash", "--out-classes", "sport2"))
    assert "has no rows of the held-out classes (sport2 held out)" in msg
    msg = one_error_line(run_cli("ood", str(data), "--encoder", "hash", "--holdout-classes", "3"))
    assert "--holdout-classes must be a whole number between 1 and 2" in msg
    # the default (5) shrinks to leave two of the four classes known, instead of refusing a
    # number the user never typed
    p = run_cli("ood", str(data), "--encoder", "hash", "--run-dir", str(run), "--json")
    assert p.returncode == 0, p.stderr
    assert len(json.loads(p.stdout)["out_classes"]) == 2
    two = tmp_path / "two.jsonl"
    two.write_text("".join(json.dumps(r) + "\n" for r in rows if r["label"] in ("sport2", rows[0]["label"])))
    msg = one_error_line(run_cli("ood", str(two), "--encoder", "hash"))
    assert "needs at least 3 training classes" in msg and "has 2" in msg
