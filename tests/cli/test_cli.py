"""The CLI end to end with the deterministic hash encoder.

In process (``run_cli``: a subprocess per command costs seconds of imports); the bad-file test
runs the real entry point in a subprocess, as do the golden-output tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import one_error_line, run_cli, run_entry_point, toy_rows


def test_quickstart_embed_fit_eval_predict(toy_jsonl: Path, tmp_path: Path) -> None:
    out = tmp_path / "best.safetensors"
    p = run_cli("quickstart", str(toy_jsonl), "--encoder", "hash", "--heads", "ncm,lda,ridge",
                "--out", str(out), "--json")
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["best"] in ("ncm", "lda", "ridge") and out.is_file()
    heads = {r["head"] for r in res["rows"]}
    assert heads == {"ncm", "lda", "ridge", "sklearn-logreg"}
    assert all(r["test_accuracy"] > 0.8 for r in res["rows"])

    p = run_cli("embed", str(toy_jsonl), "--encoder", "hash", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["cache_hit"] is True  # quickstart already filled the cache

    model = tmp_path / "lda.safetensors"
    p = run_cli("fit", str(toy_jsonl), "--head", "lda", "--encoder", "hash", "--out", str(model), "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["n_train"] == 90

    p = run_cli("eval", str(toy_jsonl), "--model", str(model), "--json")
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout)
    assert res["split"] == "test" and res["n"] == 30 and res["accuracy"] > 0.8

    preds = tmp_path / "preds.jsonl"
    p = run_cli("predict", str(toy_jsonl), "--model", str(model), "--out", str(preds), "--top-k", "2")
    assert p.returncode == 0, p.stderr
    recs = [json.loads(line) for line in preds.read_text().splitlines()]
    assert len(recs) == 120 and {"label", "probability", "top_k"} <= set(recs[0])


def test_human_tables_and_listings(toy_jsonl: Path) -> None:
    p = run_cli("heads")
    assert p.returncode == 0 and "lda" in p.stdout and "logistic" in p.stdout
    p = run_cli("encoders")
    assert p.returncode == 0 and "hash" in p.stdout and "minilm" in p.stdout
    p = run_cli("embed", str(toy_jsonl), "--encoder", "hash")
    assert p.returncode == 0 and "cache hit" in p.stdout
    p = run_cli("cache", "list", "--json")
    assert p.returncode == 0 and len(json.loads(p.stdout)) == 1
    p = run_cli("cache", "verify")
    assert p.returncode == 0, p.stdout + p.stderr


def test_missing_file(tmp_path: Path) -> None:
    msg = one_error_line(run_entry_point("fit", str(tmp_path / "nope.csv"), "--encoder", "hash"))
    assert "does not exist" in msg


def test_missing_column(toy_jsonl: Path) -> None:
    msg = one_error_line(run_cli("fit", str(toy_jsonl), "--encoder", "hash", "--text-col", "body"))
    assert "Column 'body' not found" in msg and "--text-col" in msg


def test_empty_text(tmp_path: Path) -> None:
    rows = toy_rows()
    rows[5]["text"] = "   "
    p = tmp_path / "d.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert "Row 5" in one_error_line(run_cli("fit", str(p), "--encoder", "hash"))


def test_single_class(tmp_path: Path) -> None:
    rows = [r for r in toy_rows() if r["label"] == "sport"]
    p = tmp_path / "d.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    msg = one_error_line(run_cli("fit", str(p), "--encoder", "hash", "--head", "lda",
                                  "--out", str(tmp_path / "h.safetensors")))
    assert "only one class" in msg
    assert not (tmp_path / "h.safetensors").exists()


def test_unseen_labels_at_eval(toy_jsonl: Path, tmp_path: Path) -> None:
    model = tmp_path / "m.safetensors"
    assert run_cli("fit", str(toy_jsonl), "--head", "ncm", "--encoder", "hash", "--out", str(model)).returncode == 0
    rows = toy_rows()
    for r in rows[:3]:
        r["label"] = "politics"
    p = tmp_path / "other.jsonl"
    p.write_text("".join(json.dumps(dict(r, split="test")) + "\n" for r in rows))
    msg = one_error_line(run_cli("eval", str(p), "--model", str(model)))
    assert "never seen" in msg and "politics" in msg


def test_head_from_another_encoder(toy_jsonl: Path, tmp_path: Path) -> None:
    model = tmp_path / "m.safetensors"
    assert run_cli("fit", str(toy_jsonl), "--head", "ncm", "--encoder", "hash", "--out", str(model)).returncode == 0
    msg = one_error_line(run_cli("eval", str(toy_jsonl), "--model", str(model), "--encoder", "hash:64"))
    assert "was fitted on embeddings from" in msg


def test_not_a_head_file(toy_jsonl: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 10)
    msg = one_error_line(run_cli("eval", str(toy_jsonl), "--model", str(bad)))
    assert "not a readable head file" in msg


def test_truncated_cache_shard(toy_jsonl: Path, tmp_path: Path) -> None:
    assert run_cli("embed", str(toy_jsonl), "--encoder", "hash").returncode == 0
    p = run_cli("cache", "list", "--json")
    entry = json.loads(p.stdout)[0]
    shard = next(Path(p2) for p2 in _shards(entry["id"]))
    shard.write_bytes(shard.read_bytes()[:-17])
    msg = one_error_line(run_cli("fit", str(toy_jsonl), "--encoder", "hash", "--head", "ncm",
                                  "--out", str(tmp_path / "h.safetensors")))
    assert "truncated" in msg and "verify --repair" in msg
    assert run_cli("cache", "verify").returncode == 1
    assert run_cli("cache", "verify", "--repair").returncode == 0
    p = run_cli("fit", str(toy_jsonl), "--encoder", "hash", "--head", "ncm", "--out", str(tmp_path / "h.safetensors"))
    assert p.returncode == 0, p.stderr


def _shards(entry_id: str) -> list[str]:
    import os

    root = Path(os.environ["HEADWISE_CACHE_DIR"])
    return sorted(str(p) for p in root.rglob("shard-*.npy") if entry_id in str(p) and "offsets" not in p.name)


@pytest.mark.parametrize("args", [("fit",), ("eval",), ("cache", "remove")])
def test_usage_errors_exit_nonzero(args: tuple[str, ...]) -> None:
    p = run_cli(*args)
    assert p.returncode != 0 and "Traceback" not in p.stderr


def test_data_without_a_test_split_gets_a_stratified_one(tmp_path: Path) -> None:
    # "has no split column; quickstart needs 'train' and 'test' splits" stopped most user files
    rows = [{k: v for k, v in r.items() if k != "split"} for r in toy_rows()]
    data = tmp_path / "nosplit.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    p = run_cli("quickstart", str(data), "--encoder", "hash", "--heads", "ncm,lda",
                "--out", str(tmp_path / "b.safetensors"), "--json")
    assert p.returncode == 0, p.stderr
    assert "has no split column: quickstart holds out a stratified 24 of its 120 rows" in p.stderr
    assert json.loads(p.stdout)["n_test"] == 24
    p = run_cli("eval", str(data), "--encoder", "hash", "--protocol", "linear", "--head", "ncm",
                "--run-dir", str(tmp_path / "run"), "--json")
    assert p.returncode == 0, p.stderr
    assert "holds out a stratified" in p.stderr
    # train rows but no test rows: the test split comes out of train
    train_only = tmp_path / "train.jsonl"
    train_only.write_text("".join(json.dumps({**r, "split": "train"}) + "\n" for r in rows))
    p = run_cli("quickstart", str(train_only), "--encoder", "hash", "--heads", "ncm",
                "--out", str(tmp_path / "c.safetensors"), "--json")
    assert p.returncode == 0 and "has no 'test' rows" in p.stderr
    # test rows only, or no class with two rows to hold out: one line
    test_only = tmp_path / "test.jsonl"
    test_only.write_text("".join(json.dumps({**r, "split": "test"}) + "\n" for r in rows))
    assert "no 'train' rows" in one_error_line(
        run_cli("quickstart", str(test_only), "--encoder", "hash"))
    singles = tmp_path / "singles.jsonl"
    singles.write_text("".join(json.dumps({"text": f"row {i}", "label": f"c{i}"}) + "\n"
                               for i in range(6)))
    assert "no class has two rows" in one_error_line(
        run_cli("quickstart", str(singles), "--encoder", "hash"))
