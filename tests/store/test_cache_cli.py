"""`headwise cache list / gc / verify --repair` on the row store (in-process CLI)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from headwise.cli.main import app


def _run(*args):
    return CliRunner().invoke(app, list(args))


def test_list_shows_rows_size_and_datasets(store, make_encoder, texts):
    store.get_or_compute(make_encoder(), texts, name="train.jsonl")
    store.get_or_compute(make_encoder(), texts[:10] + ["new"])
    out = _run("cache", "list", "--json")
    assert out.exit_code == 0, out.output
    [entry] = json.loads(out.stdout)
    assert entry["n"] == 51 and entry["layout"] == "v2" and entry["size_bytes"] > 0
    assert sorted(d["n"] for d in entry["datasets"]) == [11, 50]
    table = _run("cache", "list")
    assert table.exit_code == 0 and "train.jsonl" in table.stdout.replace("\n", "").replace(" ", "").replace("│", "")


def test_gc_dry_run_then_gc(store, make_encoder, texts):
    import pytest

    with pytest.raises(RuntimeError):
        store.get_or_compute(make_encoder(fail_on_call=2), texts, shard_size=10)
    dry = _run("cache", "gc", "--dry-run", "--json")
    assert dry.exit_code == 0 and json.loads(dry.stdout)[0]["rows_removed"] == 10
    assert store.entries()[0].n == 10
    done = _run("cache", "gc", "--json")
    assert json.loads(done.stdout)[0]["rows_removed"] == 10 and store.entries() == []


def test_verify_repair_reports_and_removes_leftovers(store, make_encoder, texts):
    emb = store.get_or_compute(make_encoder(), texts)
    (emb.path / ".shard-0000000000000001.npy.1.ab.tmp").write_bytes(b"x")
    bad = _run("cache", "verify")
    assert bad.exit_code == 1 and "leftover" in bad.stdout
    fixed = _run("cache", "verify", "--repair", "--json")
    assert fixed.exit_code == 0 and json.loads(fixed.stdout)[0]["strays"]
    assert _run("cache", "verify").exit_code == 0
