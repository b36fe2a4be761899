"""Each protocol end to end through `headwise eval --protocol` / `headwise sweep`, hash encoder.

In process with typer's CliRunner (a subprocess per command costs seconds of imports; the real
entry point runs in a subprocess in tests/cli).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from headwise.cli.main import app

CLI_DIR = Path(__file__).resolve().parents[1] / "cli"


def _cli_helpers():
    spec = importlib.util.spec_from_file_location("_proto_cli_helpers", CLI_DIR / "cli_helpers.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


H = _cli_helpers()


def invoke(*args: str) -> SimpleNamespace:
    """Run the CLI in process; same fields as a CompletedProcess."""
    r = CliRunner().invoke(app, list(args))
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return SimpleNamespace(returncode=r.exit_code, stdout=r.stdout, stderr=r.stderr)


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    p = tmp_path / "toy.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in H.toy_rows(n_per_class=40)))
    return p


def _ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def _one_error_line(proc) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert lines[-1].startswith("(set HEADWISE_DEBUG=1")
    return " ".join(lines[:-1])


def test_linear_fewshot_incremental_transductive_zeroshot(toy: Path, tmp_path: Path):
    run = tmp_path / "run"
    common = ["--encoder", "hash", "--run-dir", str(run)]
    p = _ok(invoke("eval", str(toy), "--protocol", "linear", "--heads", "ncm,lda", *common))
    assert "linear evaluation" in p.stdout
    lin = json.loads((run / "linear.json").read_text())
    assert lin["protocol"] == "linear" and lin["dataset"] == "toy.jsonl" and lin["encoder"] == "hash"
    assert lin["heads"]["lda"]["test_accuracy"] > 0.8
    assert {"val_accuracy", "macro_f1", "fit_seconds"} <= set(lin["heads"]["ncm"])

    _ok(invoke("eval", str(toy), "--protocol", "fewshot", "--heads", "ncm,ridge",
                  "--shots", "1,4", "--seeds", "3", *common))
    fs = json.loads((run / "fewshot.json").read_text())
    assert fs["protocol"] == "fewshot" and fs["heads"]["ncm"]["shots"] == [1, 4]
    assert len(fs["heads"]["ncm"]["per_seed"][0]) == 3

    p = _ok(invoke("eval", str(toy), "--preset", "mteb", "--heads", "ncm", "--json",
                      "--encoder", "hash"))
    m = json.loads(p.stdout)
    assert m["preset"] == "mteb" and list(m["heads"]) == ["mteb-logreg", "ncm"]
    assert m["heads"]["ncm"]["shots"] == [8]

    _ok(invoke("eval", str(toy), "--protocol", "incremental", "--tasks", "3",
                  "--heads", "ncm,lda,ridge", "--seeds", "1", *common))
    inc = json.loads((run / "incremental.json").read_text())
    assert inc["protocol"] == "incremental"
    assert len(inc["heads"]["ridge"]["accuracy_after_task"]) == 3

    _ok(invoke("eval", str(toy), "--protocol", "fewshot", "--transductive", "--heads", "ncm",
                  "--shots", "1", "--seeds", "2", *common))
    tr = json.loads((run / "fewshot.json").read_text())
    assert set(tr["heads"]) == {"ncm", "ncm+transductive"} and tr["transductive"] is True

    p = _ok(invoke("eval", str(toy), "--protocol", "zeroshot", *common))
    zs = json.loads((run / "zeroshot.json").read_text())
    assert zs["protocol"] == "zeroshot" and 0.0 <= zs["accuracy"] <= 1.0
    assert not [f for f in run.iterdir() if f.name.endswith(".tmp")]


def test_eval_protocol_errors_are_one_line(toy: Path, tmp_path: Path):
    msg = _one_error_line(invoke("eval", str(toy), "--protocol", "nope", "--encoder", "hash"))
    assert "Unknown protocol 'nope'" in msg
    msg = _one_error_line(invoke("eval", str(toy)))
    assert "--model" in msg and "--protocol" in msg
    msg = _one_error_line(invoke("eval", str(toy), "--protocol", "fewshot", "--shots", "500",
                                    "--encoder", "hash"))
    assert "500 shots" in msg
    msg = _one_error_line(invoke("eval", str(toy), "--protocol", "incremental",
                                    "--heads", "logistic", "--encoder", "hash"))
    assert "no partial_fit" in msg
    msg = _one_error_line(invoke("sweep", str(toy), "--encoder", "hash"))
    assert "no hidden layers" in msg
    if importlib.util.find_spec("matplotlib") is None:
        msg = _one_error_line(invoke("sweep", str(toy), "--plot", "x.png"))
        assert "pip install headwise[plot]" in msg


def test_linear_leakage_refused_then_dropped(tmp_path: Path):
    rows = H.toy_rows(n_per_class=40)
    rows.append({**next(r for r in rows if r["split"] == "train"), "split": "test"})
    p = tmp_path / "leaky.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    msg = _one_error_line(H.run_cli("eval", str(p), "--protocol", "linear", "--heads", "ncm",
                                    "--encoder", "hash"))
    assert "1 of 31 test rows also appear" in msg and "--drop-overlap" in msg
    out = _ok(H.run_cli("eval", str(p), "--protocol", "linear", "--heads", "ncm", "--encoder",
                        "hash", "--drop-overlap", "--json"))
    assert json.loads(out.stdout)["n_dropped_overlap"] == 1


def test_sweep_on_tiny_transformer(toy: Path, tmp_path: Path):
    pytest.importorskip("transformers")
    spec = importlib.util.spec_from_file_location(
        "_enc_conftest", CLI_DIR.parent / "encoders" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model = mod._save_tiny_bert(tmp_path / "tiny-bert")
    run = tmp_path / "run"
    p = _ok(invoke("sweep", str(toy), "--layers", "all", "--head", "ncm,lda",
                      "--encoder", f"hf:{model}", "--run-dir", str(run)))
    assert "layer sweep" in p.stdout
    sw = json.loads((run / "sweep.json").read_text())
    assert sw["protocol"] == "sweep" and sw["head"] == "ncm" and sw["layers"] == [0, 1, 2]
    assert len(sw["val_accuracy"]) == 3 and len(sw["test_accuracy"]) == 3
    assert set(sw["heads"]) == {"ncm", "lda"}
