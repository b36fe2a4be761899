"""The one error map and the option rules, in process (CliRunner) except where noted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from headwise.cli.main import app


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, list(args), env=env)


def test_json_errors_are_one_json_object(toy_jsonl: Path, tmp_path: Path) -> None:
    r = invoke("fit", str(toy_jsonl), "--encoder", "nope-encoder", "--json", "--out", str(tmp_path / "h.st"))
    assert r.exit_code == 1
    err = json.loads(r.stdout)
    assert set(err) >= {"error", "hint"} and "nope-encoder" in err["error"]
    assert "encoders list" in err["hint"]
    assert "Traceback" not in r.stdout + r.stderr


def test_text_errors_are_one_line_with_hint(toy_jsonl: Path) -> None:
    r = invoke("fit", str(toy_jsonl), "--encoder", "nope-encoder")
    assert r.exit_code == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 2 and lines[0].startswith("error: ") and "encoders list" in lines[0]
    assert lines[1] == "(set HEADWISE_DEBUG=1 for a traceback)"


def test_debug_shows_the_traceback(toy_jsonl: Path) -> None:
    r = invoke("fit", str(toy_jsonl), "--encoder", "nope-encoder", env={"HEADWISE_DEBUG": "1"})
    assert r.exit_code == 1 and "Traceback" in r.stderr


def test_write_failure_is_one_line(toy_jsonl: Path, tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "h.safetensors"
    r = invoke("fit", str(toy_jsonl), "--encoder", "hash", "--head", "ncm", "--out", str(target))
    assert r.exit_code == 1, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 2 and str(target.parent) in lines[0] and "does not exist" in lines[0]


def test_predict_out_to_unwritable_place(toy_jsonl: Path, tmp_path: Path) -> None:
    model = tmp_path / "h.safetensors"
    assert invoke("fit", str(toy_jsonl), "-e", "hash", "--head", "ncm", "-o", str(model)).exit_code == 0
    r = invoke("predict", str(toy_jsonl), "--model", str(model), "--out", str(tmp_path / "x" / "p.jsonl"))
    assert r.exit_code == 1 and "Predictions file" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("cmd", ["fit", "eval", "score", "predict", "embed", "quickstart", "sweep",
                                 "probe", "ood", "report", "heads", "cache", "encoders"])
def test_dash_h_is_help_everywhere(cmd: str) -> None:
    r = invoke(cmd, "-h")
    assert r.exit_code == 0 and "Usage" in r.stdout


def test_version() -> None:
    from headwise import __version__

    r = invoke("--version")
    assert r.exit_code == 0 and r.stdout.strip() == __version__


def test_head_takes_a_name_or_a_list(toy_jsonl: Path, tmp_path: Path) -> None:
    r = invoke("fit", str(toy_jsonl), "-e", "hash", "--head", "ncm,lda", "-o", str(tmp_path / "h"))
    assert r.exit_code == 1 and "fits one head" in r.stderr
    r = invoke("eval", str(toy_jsonl), "-e", "hash", "--protocol", "linear", "--head", "ncm", "--seeds", "1")
    assert r.exit_code == 0, r.output
    r = invoke("eval", str(toy_jsonl), "-e", "hash", "--protocol", "linear", "--heads", "ncm", "--seeds", "1")
    assert r.exit_code == 0, r.output


def test_inapplicable_options_are_refused(toy_jsonl: Path, tmp_path: Path) -> None:
    r = invoke("eval", str(toy_jsonl), "-e", "hash", "--protocol", "linear", "--out", str(tmp_path / "r"))
    assert r.exit_code == 1 and "--run-dir" in r.stderr
    r = invoke("eval", str(toy_jsonl), "-e", "hash", "--protocol", "linear", "--split", "test")
    assert r.exit_code == 1 and "--split does not apply" in r.stderr
    r = invoke("fit", str(toy_jsonl), "-e", "hash", "--run-dir", str(tmp_path / "r"))
    assert r.exit_code == 1 and "add --calibrate" in r.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("fit", "--alpha", "0.2"), "--alpha does not apply to fit without --calibrate"),
        (("fit", "--calib-frac", "0.3", "--alpha", "0.2"), "--calib-frac, --alpha do not apply"),
        (("eval", "--protocol", "fewshot", "--tasks", "3"), "--tasks does not apply to eval --protocol fewshot"),
        (("eval", "--protocol", "incremental", "--shots", "1", "--rounds", "2"), "--shots, --rounds do not"),
        (("eval", "--protocol", "zeroshot", "--seeds", "2"), "--seeds does not apply to eval --protocol zeroshot"),
        (("eval", "--protocol", "linear", "--preset", "mteb"), "--preset does not apply"),
        (("eval", "--protocol", "fewshot", "--drop-overlap"), "--drop-overlap does not apply"),
        (("eval", "--model", "head.safetensors", "--seeds", "2"), "--seeds does not apply to eval --model"),
        (("predict", "--model", "head.safetensors", "--method", "aps"), "--method does not apply to predict"),
        (("predict", "--model", "head.safetensors", "--mondrian"), "--mondrian does not apply to predict"),
        (("probe", "--top", "5"), "--top lists the best"),
        (("embed", "--on-error", "skip"), "a text table has none"),
        (("ood", "--holdout-classes", "2", "--out-classes", "sport"), "Pass one."),
    ],
)
def test_options_that_do_nothing_here_are_refused_in_one_line(toy_jsonl: Path, args: tuple, said: str) -> None:
    r = invoke(args[0], str(toy_jsonl), "-e", "hash", *args[1:])
    assert r.exit_code == 1 and said in r.stderr, r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 2  # the line and the debug hint


@pytest.mark.parametrize(
    ("param", "said"),
    [
        ("encoder=nope-encoder", "Unknown encoder 'nope-encoder'"),
        ("encoder=123", "ZeroShotHead got int as encoder"),
        ("class_names=[\"a\"]", "class_names lists 1 names but there are 3 classes"),
        ("class_names={\"sport\": \"games\"}", "class_names has no name for label(s)"),
    ],
)
def test_bad_zero_shot_settings_of_auto_are_one_line(toy_jsonl: Path, tmp_path: Path, param: str,
                                                       said: str) -> None:
    out = tmp_path / "h.safetensors"
    r = invoke("fit", str(toy_jsonl), "-e", "hash", "--head", "auto", "--param", param, "-o", str(out))
    assert r.exit_code == 1 and said in r.stderr, r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 2 and not out.exists()


def test_quickstart_never_overwrites_silently(toy_jsonl: Path, tmp_path: Path) -> None:
    out = tmp_path / "best.safetensors"
    args = ("quickstart", str(toy_jsonl), "-e", "hash", "--head", "ncm,lda", "--no-baseline", "-o", str(out))
    assert invoke(*args).exit_code == 0
    r = invoke(*args)
    assert r.exit_code == 1 and "already exists" in r.stderr and "--force" in r.stderr
    assert invoke(*args, "--force").exit_code == 0
