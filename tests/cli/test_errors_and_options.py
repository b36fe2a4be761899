"""The one error map and the option rules, in process (CliRunner) except where noted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
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


def test_python_warnings_are_one_plain_line_each(tmp_path: Path) -> None:
    """A warning from a library under a command (sklearn's "more classes than half the rows")
    reads as one ``warning:`` line, once, without Python's source path or code line."""
    rows = [{"text": f"text number {i}", "label": f"c{i}"} for i in range(40)]
    data = tmp_path / "singletons.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = invoke("fit", str(data), "-e", "hash", "--head", "auto", "-o", str(tmp_path / "h.st"))
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.stderr.splitlines() if "unique classes" in ln]
    assert len(lines) == 1 and lines[0].startswith("warning: The number of unique classes")
    assert "UserWarning" not in r.stderr and ".py:" not in r.stderr


def test_warnings_as_lines_prints_each_message_once(capsys, monkeypatch) -> None:
    import warnings

    from headwise.cli._errors import warnings_as_lines

    monkeypatch.delenv("HEADWISE_DEBUG", raising=False)
    with warnings_as_lines():
        for _ in range(3):
            warnings.warn("rows   were\ndropped", UserWarning, stacklevel=1)
        warnings.warn("another", RuntimeWarning, stacklevel=1)
    assert capsys.readouterr().err.splitlines() == ["warning: rows were dropped", "warning: another"]


def test_predict_with_number_labels_against_a_text_head(toy_jsonl: Path, tmp_path: Path) -> None:
    """Labels 0/1 in the file, classes "finance"/... in the head: every row is an unseen label,
    reported as such (sklearn's "Mix of label input types" used to escape as a traceback)."""
    model = tmp_path / "h.safetensors"
    assert invoke("fit", str(toy_jsonl), "-e", "hash", "--head", "ncm", "-o", str(model)).exit_code == 0
    rows = [json.loads(ln) for ln in toy_jsonl.read_text().splitlines()][:12]
    numbered = tmp_path / "numbered.jsonl"
    numbered.write_text("".join(json.dumps({**r, "label": i % 2}) + "\n" for i, r in enumerate(rows)))
    r = invoke("predict", str(numbered), "--model", str(model), "--json")
    assert r.exit_code == 0, r.output
    metrics = json.loads(r.stdout)["metrics"]
    assert metrics["unseen_labels"] == 12 and metrics["accuracy"] == 0.0


def test_thin_calibration_is_named_in_warnings(toy_jsonl: Path, tmp_path: Path) -> None:
    """Two calibration rows cannot pin a temperature or make a 90% set smaller than every
    class: the fit stands (exit 0) and says so, in text and in --json."""
    rows = [json.loads(ln) for ln in toy_jsonl.read_text().splitlines()]
    few = [r for r in rows if r["split"] == "test"] + [
        r for i, r in enumerate(r for r in rows if r["split"] == "train") if i % 10 < 1]
    data = tmp_path / "few.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in few))
    r = invoke("fit", str(data), "-e", "hash", "--head", "ncm", "--calibrate", "-o", str(tmp_path / "a.st"))
    assert r.exit_code == 0, r.output
    assert "warning: 1 calibration rows" in r.stderr or "calibration rows: conformal sets" in r.stderr
    j = invoke("fit", str(data), "-e", "hash", "--head", "ncm", "--calibrate", "--json",
               "-o", str(tmp_path / "b.st"))
    assert any("need at least 9" in w for w in json.loads(j.stdout)["warnings"])
    ok = invoke("fit", str(toy_jsonl), "-e", "hash", "--head", "ncm", "--calibrate", "--json",
                "-o", str(tmp_path / "c.st"))
    assert "warnings" not in json.loads(ok.stdout)


def test_fewshot_names_test_rows_that_also_occur_in_train(toy_jsonl: Path, tmp_path: Path) -> None:
    """The linear protocol refuses them; few-shot keeps them as MTEB does, but says so (and
    counts them in the run file)."""
    rows = [json.loads(ln) for ln in toy_jsonl.read_text().splitlines()]
    train = [r for r in rows if r["split"] == "train"]
    copies = [{**r, "split": "test"} for r in train[:4]]
    data = tmp_path / "leaky.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows + copies))
    run = tmp_path / "run"
    r = invoke("eval", str(data), "-e", "hash", "--protocol", "fewshot", "--heads", "ncm",
               "--shots", "1", "--seeds", "2", "--run-dir", str(run))
    assert r.exit_code == 0, r.output
    n_test = sum(1 for x in rows if x["split"] == "test") + 4
    assert f"warning: 4 of {n_test} test rows also occur in train" in r.stderr
    assert json.loads((run / "fewshot.json").read_text())["n_test_overlap"] == 4
    clean = invoke("eval", str(toy_jsonl), "-e", "hash", "--protocol", "fewshot", "--heads", "ncm",
                   "--shots", "1", "--seeds", "2")
    assert clean.exit_code == 0 and "occur in train" not in clean.stderr


@pytest.mark.parametrize("head", ["zeroshot", "blend"])
def test_heads_that_read_class_names_get_the_encoder_that_made_the_rows(
        head: str, toy_jsonl: Path, tmp_path: Path) -> None:
    """`fit --head zeroshot` said it needed an encoder (the CLI has one: -e), and `--head blend`
    silently fitted without the names (a prior of zeros). Both now get the rows' encoder, as
    auto does, and the saved head predicts on its own."""
    model = tmp_path / f"{head}.safetensors"
    r = invoke("fit", str(toy_jsonl), "-e", "hash", "--head", head, "--json", "-o", str(model))
    assert r.exit_code == 0, r.output
    if head == "blend":
        assert "prior_strength" in json.loads(r.stdout)["chosen"]
        from headwise.heads import load_head

        assert np.abs(load_head(model).zero_shot_coef_).sum() > 0  # the names were used
    p = invoke("predict", str(toy_jsonl), "--model", str(model), "--json")
    assert p.exit_code == 0, p.output
    ev = invoke("eval", str(toy_jsonl), "-e", "hash", "--protocol", "fewshot", "--heads", head,
                "--shots", "2", "--seeds", "1")
    assert ev.exit_code == 0, ev.output


def test_a_number_of_seeds_no_run_takes_is_one_line_not_an_oom(toy_jsonl: Path) -> None:
    # 10**9 seeds built a tuple of 10**9 ints first and filled the memory (330 MB/s) before
    # the first fit
    r = invoke("eval", str(toy_jsonl), "-e", "hash", "--protocol", "fewshot", "--seeds", "1000000000")
    assert r.exit_code == 1 and "--seeds must be a whole number between 1 and 10000" in r.stderr


def test_the_library_refuses_too_many_seeds_before_building_them() -> None:
    import numpy as np

    from headwise.exceptions import InputError
    from headwise.heads import NCMHead
    from headwise.protocols import few_shot_eval

    X, y = np.random.default_rng(0).normal(size=(20, 3)), np.repeat([0, 1], 10)
    with pytest.raises(InputError, match="1000000000 seeds were asked for; the most a run takes"):
        few_shot_eval({"ncm": NCMHead()}, X, y, X, y, shots=[1], seeds=range(10**9))


def _head(toy_jsonl: Path, tmp_path: Path, labels: Any = None) -> Path:
    model = tmp_path / "h.safetensors"
    assert invoke("fit", str(toy_jsonl), "-e", "hash", "--head", "ncm", "-o", str(model)).exit_code == 0
    return model


@pytest.mark.parametrize("cmd", ["fit", "predict", "quickstart"])
def test_out_at_the_input_file_is_refused_and_the_data_kept(toy_jsonl: Path, tmp_path: Path, cmd: str) -> None:
    # the data file was replaced by the head, the predictions or the report (exit 0)
    before = toy_jsonl.read_bytes()
    extra = ["--model", str(_head(toy_jsonl, tmp_path))] if cmd == "predict" else ["-e", "hash"]
    r = invoke(cmd, str(toy_jsonl), *extra, "--out", str(toy_jsonl))
    assert r.exit_code == 1 and "is the input file" in r.stderr, r.output
    assert toy_jsonl.read_bytes() == before


def test_out_at_a_device_or_a_link_writes_through_it(toy_jsonl: Path, tmp_path: Path) -> None:
    # the temp file was renamed over them: as root `--out /dev/null` replaced /dev/null itself
    import os
    import threading

    target = tmp_path / "real.safetensors"
    link = tmp_path / "link.safetensors"
    link.symlink_to(target)
    assert invoke("fit", str(toy_jsonl), "-e", "hash", "--head", "ncm", "-o", str(link)).exit_code == 0
    assert link.is_symlink() and target.stat().st_size > 0  # the link stays, its target is written
    assert invoke("fit", str(toy_jsonl), "-e", "hash", "--head", "ncm", "-o", os.devnull).exit_code == 0
    assert Path(os.devnull).is_char_device()
    fifo = tmp_path / "p.jsonl"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    r = invoke("predict", str(toy_jsonl), "--model", str(target), "--out", str(fifo))
    if reader.is_alive() and r.exit_code != 0:
        with open(fifo, "wb"):  # release the reader: nothing was written
            pass
    reader.join(30)
    assert r.exit_code == 0, r.output
    assert fifo.is_fifo() and got and len(got[0].splitlines()) == len(toy_jsonl.read_text().splitlines())


@pytest.mark.parametrize(("cmd", "args", "said"), [
    ("quickstart", ("--seed", "-1"), "--seed must be a whole number from 0"),
    ("quickstart", ("--seed", "4294967296"), "--seed must be a whole number from 0"),
    ("ood", ("--seed", "-1"), "--seed must be a whole number from 0"),
])  # fmt: skip
def test_a_seed_numpy_cannot_take_is_one_line(toy_jsonl: Path, cmd: str, args: tuple, said: str) -> None:
    r = invoke(cmd, str(toy_jsonl), "-e", "hash", *args)
    assert r.exit_code == 1 and said in r.stderr and "Traceback" not in r.output


def test_a_run_dir_that_is_a_file_is_refused_before_anything_is_written(toy_jsonl: Path, tmp_path: Path) -> None:
    out = tmp_path / "new.safetensors"
    r = invoke("fit", str(toy_jsonl), "-e", "hash", "--head", "ncm", "--calibrate", "-o", str(out),
               "--run-dir", str(toy_jsonl))  # fmt: skip
    assert r.exit_code == 1 and "--run-dir" in r.stderr and "is a file" in r.stderr
    assert not out.exists()


def test_score_reads_a_test_split_spelled_in_capitals(toy_jsonl: Path, tmp_path: Path) -> None:
    # "Test" was no split: score fell back to every row, training rows included, with exit 0
    rows = [json.loads(ln) for ln in toy_jsonl.read_text().splitlines()]
    capital = tmp_path / "cap.jsonl"
    capital.write_text("".join(json.dumps({**r, "split": " Test " if r["split"] == "test" else "TRAIN"}) + "\n"
                               for r in rows))  # fmt: skip
    model = _head(capital, tmp_path)
    r = invoke("score", str(capital), "--model", str(model), "--json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["n"] == sum(r["split"] == "test" for r in rows), got


def test_predict_compares_labels_of_another_type_as_text(toy_jsonl: Path, tmp_path: Path) -> None:
    # labels "1" against a head of classes 1 counted as right in the accuracy, while every row
    # was reported as an unseen label
    rows = [json.loads(ln) for ln in toy_jsonl.read_text().splitlines()]
    names = sorted({r["label"] for r in rows})
    ints, strs = tmp_path / "ints.jsonl", tmp_path / "strs.jsonl"
    ints.write_text("".join(json.dumps({**r, "label": names.index(r["label"])}) + "\n" for r in rows))
    strs.write_text("".join(json.dumps({**r, "label": str(names.index(r["label"]))}) + "\n" for r in rows))
    model = _head(ints, tmp_path)
    a = json.loads(invoke("predict", str(ints), "--model", str(model), "--json").stdout)["metrics"]
    b = json.loads(invoke("predict", str(strs), "--model", str(model), "--json").stdout)["metrics"]
    assert b["unseen_labels"] == 0 and b["accuracy"] == a["accuracy"] > 0


@pytest.mark.parametrize(("args", "said"), [
    (("fit", "{data}", "-e", "hash", "--param", "shrinkage=0.1", "--param", "shrinkage=0.5"),
     "--param shrinkage is given twice"),
    (("quickstart", "{data}", "-e", "hash", "--validation-fraction", "0"),
     "--validation-fraction must be a fraction in the open interval (0, 1) of the training rows"),
    (("report", "{data}"), "is a file; give the run folder"),
    (("fit", "{empty}", "-e", "hash"), "is empty (0 bytes)"),
])  # fmt: skip
def test_lesser_mistakes_are_named(toy_jsonl: Path, tmp_path: Path, args: tuple, said: str) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    r = invoke(*(a.format(data=toy_jsonl, empty=empty) for a in args))  # each fails before writing
    assert r.exit_code == 1 and said in r.stderr, r.output


@pytest.mark.parametrize("args", [
    ("--protocol", "incremental", "--tasks", "2", "--seeds", "1"),
    ("--protocol", "longtail", "--imbalance", "2", "--seeds", "1"),
    ("--protocol", "active", "--head", "ncm", "--rounds", "1", "--budget", "2", "--start", "1", "--seeds", "1"),
    ("--protocol", "ood"),
])  # fmt: skip
def test_protocols_that_keep_every_test_row_name_those_also_in_train(toy_jsonl: Path, tmp_path: Path,
                                                                    args: tuple) -> None:  # fmt: skip
    # they scored test rows that were training rows with no word (linear refuses, fewshot warns)
    rows = [json.loads(ln) for ln in toy_jsonl.read_text().splitlines()]
    leaked = tmp_path / "leak.jsonl"
    copies = [{**r, "split": "test"} for r in rows if r["split"] == "train"][:5]
    leaked.write_text("".join(json.dumps(r) + "\n" for r in rows + copies))
    r = invoke("eval", str(leaked), "-e", "hash", *args)
    assert r.exit_code == 0, r.output
    assert "also occur in train" in r.stderr, r.stderr


@pytest.mark.parametrize("protocol", ["linear", "fewshot"])
def test_a_multi_label_head_in_a_single_label_protocol_is_one_line(toy_jsonl: Path, protocol: str) -> None:
    r = invoke("eval", str(toy_jsonl), "-e", "hash", "--protocol", protocol, "--heads", "mlridge", "--seeds", "1")
    assert r.exit_code == 1 and "predicts a set of labels per row" in r.stderr and "Traceback" not in r.output


def test_fit_refuses_a_multi_label_head_on_single_labels(toy_jsonl: Path, tmp_path: Path) -> None:
    # the head was saved, and `score` on it then failed with sklearn's traceback
    out = tmp_path / "m.safetensors"
    r = invoke("fit", str(toy_jsonl), "-e", "hash", "--head", "mlridge", "-o", str(out))
    assert r.exit_code == 1 and "holds one label per row" in r.stderr and not out.exists()


def test_a_refused_multi_label_fit_leaves_no_head_file(toy_jsonl: Path, tmp_path: Path) -> None:
    # a validation label the head never saw was found after the head file had been written
    rows = [json.loads(ln) for ln in toy_jsonl.read_text().splitlines()]
    first_test = next(i for i, r in enumerate(rows) if r["split"] == "test")
    rows[first_test]["split"] = "validation"
    lists = [{**r, "label": [r["label"]] + (["rare"] if r["split"] == "validation" else [])} for r in rows]
    data = tmp_path / "ml.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in lists))
    out = tmp_path / "ml.safetensors"
    r = invoke("fit", str(data), "-e", "hash", "--head", "mlridge", "-o", str(out))
    assert r.exit_code == 1 and "never seen" in r.stderr and not out.exists(), r.output
