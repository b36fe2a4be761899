"""Damage found on read, verify/repair, containment, gc, and key management (row store)."""

from __future__ import annotations

import re
import sqlite3

import numpy as np
import pytest

from headwise.exceptions import CacheError
from headwise.store import EmbeddingStore
from headwise.store._paths import flock
from headwise.store._shards import npy_bytes


def _shards(emb):
    return sorted(emb.path.glob("shard-*.npy"), key=lambda p: p.stat().st_mtime_ns)


def _index(store):
    return sqlite3.connect(store.root / "v2" / "index.sqlite")


def test_truncated_shard_raises_on_load(store, make_encoder, texts):
    emb = store.get_or_compute(make_encoder(), texts, shard_size=10)
    path = _shards(emb)[3]
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:100])
    enc = make_encoder()
    with pytest.raises(CacheError) as info:
        store.get_or_compute(enc, texts, shard_size=10)
    message = str(info.value)
    assert message == (
        f"Cache shard {emb.key_id}/{path.name} is truncated (expected {size} bytes, found 100). "
        "Run `headwise cache verify --repair` to remove it; the next run recomputes its rows."
    )
    assert enc.calls == 0
    with pytest.raises(CacheError, match="is truncated"):
        store.lookup(enc, texts)


def test_missing_shard_raises_on_load(store, make_encoder, texts):
    emb = store.get_or_compute(make_encoder(), texts, shard_size=10)
    _shards(emb)[0].unlink()
    with pytest.raises(CacheError, match=r"Cache shard .*/shard-.*\.npy is missing\. Run"):
        store.get_or_compute(make_encoder(), texts, shard_size=10)


def test_same_size_bit_flip_is_caught_before_use(store, make_encoder, texts):
    emb = store.get_or_compute(make_encoder(), texts, shard_size=10)
    path = _shards(emb)[2]
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CacheError, match=f"{path.name} is corrupt .*sha256.*verify --repair"):
        store.get_or_compute(make_encoder(), texts, shard_size=10)
    fresh = EmbeddingStore(store.root)
    with pytest.raises(CacheError, match="is corrupt"):
        fresh.lookup(make_encoder(), texts[20:30])


def test_nan_in_a_shard_names_the_shard_and_repair(store, make_encoder, texts):
    emb = store.get_or_compute(make_encoder(), texts, shard_size=10)
    path = _shards(emb)[1]
    arr = np.load(path)
    arr[3, 2] = np.nan
    data = npy_bytes(arr)
    path.write_bytes(data)
    import hashlib

    with _index(store) as con:  # a checksum that matches the damaged bytes: only NaN is left
        con.execute("UPDATE shards SET sha256 = ? WHERE name = ?",
                    (hashlib.sha256(data).hexdigest(), path.name))
    with pytest.raises(CacheError, match=f"{path.name} holds NaN or infinite values.*--repair"):
        store.get_or_compute(make_encoder(), texts, shard_size=10)
    [bad] = store.verify()
    assert not bad.ok and bad.bad_shards == (path.name,)
    store.verify(repair=True)
    enc = make_encoder()
    again = store.get_or_compute(enc, texts, shard_size=10)
    assert enc.rows == 10
    np.testing.assert_array_equal(again.to_numpy(), enc.expected(texts))


def test_verify_and_repair_recompute_only_the_damaged_rows(store, make_encoder, texts):
    emb = store.get_or_compute(make_encoder(), texts, shard_size=10)
    [clean] = store.verify()
    assert clean.ok and clean.n_shards_checked == 5 and not clean.repaired
    path = _shards(emb)[2]
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))
    [bad] = store.verify(emb.key_id[:6])
    assert not bad.ok and bad.bad_shards == (path.name,) and not bad.repaired
    assert "is corrupt" in bad.problems[0]
    [fixed] = store.verify(repair=True)
    assert fixed.repaired and fixed.bad_shards == (path.name,)
    assert not path.exists()
    assert store.lookup(make_encoder(), texts) is None
    enc = make_encoder()
    again = store.get_or_compute(enc, texts, shard_size=10)
    assert enc.calls == 1 and enc.rows == 10
    np.testing.assert_array_equal(again.to_numpy(), make_encoder().expected(texts))
    assert store.verify()[0].ok


def test_repair_removes_orphans_and_temp_files(store, make_encoder, texts):
    emb = store.get_or_compute(make_encoder(), texts, shard_size=10)
    (emb.path / ".shard-0000000000000001.npy.123.abcd.tmp").write_bytes(b"half")
    (emb.path / "shard-00000000000000ff.npy").write_bytes(b"written but never indexed")
    [dirty] = store.verify()
    assert not dirty.ok and len(dirty.strays) == 2
    [fixed] = store.verify(repair=True)
    assert fixed.repaired and len(fixed.strays) == 2
    assert sorted(p.name for p in emb.path.iterdir() if not p.name.startswith("shard-")) == [".lock"]
    assert store.verify()[0].ok


def test_damaged_index_is_one_line_and_repair_starts_fresh(store, make_encoder, texts):
    store.get_or_compute(make_encoder(), texts)
    for p in (store.root / "v2").glob("index.sqlite*"):
        p.write_bytes(b"this is not a database" * 10)
    with pytest.raises(CacheError, match="Cache index .* is damaged .*verify --repair"):
        store.get_or_compute(make_encoder(), texts)
    store.verify(repair=True)
    enc = make_encoder()
    store.get_or_compute(enc, texts)
    assert enc.rows == 50
    assert all(r.ok for r in store.verify())


def test_encoder_alias_with_same_key_hits(store, make_encoder, texts):
    original = make_encoder()
    store.get_or_compute(original, texts)
    alias = make_encoder(name="another-name")
    alias.key = original.key  # same key(): same embeddings, whatever the display name
    store.get_or_compute(alias, texts)
    assert alias.calls == 0


def test_dim_outside_key_is_caught(store, make_encoder, texts):
    store.get_or_compute(make_encoder(dim=8), texts)
    with pytest.raises(CacheError, match="the cache has dim=8, the encoder dim=4.*key\\(\\) leaves out"):
        store.get_or_compute(make_encoder(dim=4), texts)


# ---------------------------------------------------------------- listing, gc, remove, clear
def test_entries_listing_shows_rows_size_and_datasets(store, make_encoder, texts):
    assert store.entries() == []
    store.get_or_compute(make_encoder(name="alpha"), texts, dtype="float16", name="train.csv")
    store.get_or_compute(make_encoder(name="alpha"), texts[:30] + ["extra"], dtype="float16")
    [alpha] = store.entries()
    assert (alpha.n, alpha.dim, alpha.dtype, alpha.pooling, alpha.layout) == (51, 8, "float16", "mean", "v2")
    assert alpha.encoder_key == make_encoder(name="alpha").key()
    assert alpha.size_bytes == sum(p.stat().st_size for p in alpha.path.glob("shard-*.npy"))
    assert sorted((d["name"], d["n"]) for d in alpha.datasets) == [("", 31), ("train.csv", 50)]
    assert alpha.created is not None and alpha.updated is not None


def test_gc_removes_rows_no_dataset_references(store, make_encoder, texts):
    with pytest.raises(RuntimeError):  # an interrupted run leaves rows no dataset lists
        store.get_or_compute(make_encoder(fail_on_call=3), texts[:30], shard_size=10)
    store.get_or_compute(make_encoder(), texts[:5] + texts[30:], shard_size=10)
    [dry] = store.gc(dry_run=True)
    assert dry.dry_run and dry.rows_removed == 15 and dry.shards_removed == 1
    assert store.entries()[0].n == 40
    [done] = store.gc()
    assert (done.rows_removed, done.shards_removed, done.shards_rewritten) == (15, 1, 1)
    assert done.bytes_freed > 0
    [info] = store.entries()
    assert info.n == 25
    enc = make_encoder()
    emb = store.get_or_compute(enc, texts[:5] + texts[30:])
    assert enc.calls == 0
    np.testing.assert_array_equal(emb.to_numpy(), enc.expected(texts[:5] + texts[30:]))
    assert store.verify()[0].ok


def test_remove_by_prefix(store, make_encoder, texts):
    a = store.get_or_compute(make_encoder(name="a", revision="1"), texts)
    b = store.get_or_compute(make_encoder(name="b", revision="2"), texts[:10])
    assert store.remove(a.key_id[:8]) == [a.key_id]
    assert not a.path.exists()
    assert [e.id for e in store.entries()] == [b.key_id]
    with pytest.raises(CacheError, match="No cache entry matches"):
        store.remove(a.key_id)


def test_ambiguous_prefix_is_refused(tmp_path, make_encoder):
    store = EmbeddingStore(tmp_path)
    made = [store.get_or_compute(make_encoder(revision=str(i)), ["t"]).key_id for i in range(40)]
    first: dict[str, list[str]] = {}
    for eid in made:
        first.setdefault(eid[0], []).append(eid)
    char, ids = max(first.items(), key=lambda kv: len(kv[1]))
    with pytest.raises(
        CacheError,
        match=re.escape(f"Entry prefix '{char}' is ambiguous: it matches {len(ids)} entries"),
    ):
        store.remove(char)
    with pytest.raises(CacheError, match="empty id"):
        store.remove("")
    assert len(store.entries()) == 40


def test_maintenance_refuses_while_a_writer_runs(store, make_encoder, texts):
    emb = store.get_or_compute(make_encoder(), texts)
    with flock(store.root / "v2" / ".lock", shared=True):
        for op in (lambda: store.remove(emb.key_id), store.clear, lambda: store.verify(repair=True),
                   store.gc):
            with pytest.raises(CacheError, match="being written by another process"):
                op()
    assert store.remove(emb.key_id) == [emb.key_id]


def test_clear(store, make_encoder, texts):
    assert store.clear() == 0
    store.get_or_compute(make_encoder(), texts)
    store.get_or_compute(make_encoder(revision="x"), texts[:5])
    assert store.clear() == 2
    assert store.entries() == []
    assert sorted(p.name for p in (store.root / "v2").iterdir()) == [".lock"]


def test_index_written_before_the_layout_stamp_is_upgraded_in_place(store, make_encoder, texts):
    """An index whose datasets table holds the row hashes inline (the first v2 layout) keeps its
    rows and records: the hashes move to dataset_rows and the layout is stamped."""
    store.get_or_compute(make_encoder(), texts)
    con = _index(store)
    with con:
        con.execute("CREATE TABLE old(id INTEGER PRIMARY KEY, enc INTEGER NOT NULL, digest TEXT NOT NULL, "
                    "name TEXT NOT NULL, n INTEGER NOT NULL, hashes BLOB NOT NULL, created TEXT NOT NULL, "
                    "used TEXT NOT NULL, UNIQUE(enc, digest))")
        con.execute("INSERT INTO old SELECT d.id, d.enc, d.digest, d.name, d.n, r.hashes, d.created, d.used "
                    "FROM datasets d JOIN dataset_rows r ON r.id = d.id")
        con.execute("DROP TABLE datasets")
        con.execute("DELETE FROM dataset_rows")
        con.execute("ALTER TABLE old RENAME TO datasets")
        con.execute("PRAGMA user_version = 0")
    con.close()
    enc = make_encoder()
    store.get_or_compute(enc, texts)  # a hit that records the dataset again
    store.get_or_compute(enc, texts[:10])  # a new dataset record on the upgraded layout
    assert enc.rows == 0
    con = _index(store)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "hashes" not in {r[1] for r in con.execute("PRAGMA table_info(datasets)")}
    n_sets = con.execute("SELECT count(*) FROM datasets").fetchone()[0]
    assert n_sets == 2 == con.execute("SELECT count(*) FROM dataset_rows").fetchone()[0]
    con.close()


def test_index_from_a_newer_layout_is_refused_in_one_line(store, make_encoder, texts):
    store.get_or_compute(make_encoder(), texts)
    con = _index(store)
    con.execute("PRAGMA user_version = 99")
    con.close()
    with pytest.raises(CacheError, match=r"newer headwise \(index layout 99.*HEADWISE_CACHE_DIR"):
        store.get_or_compute(make_encoder(), texts)
