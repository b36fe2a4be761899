"""Damage detection, verify/repair, and entry management (entries, remove, clear)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from headwise.exceptions import CacheError
from headwise.store import EmbeddingStore
from headwise.store._io import entry_lock


def _shard(emb, i):
    return emb.path / f"shard-{i:05d}.npy"


def test_truncated_shard_raises_on_load(store, make_encoder, texts):
    emb = store.get_or_compute(make_encoder(), texts, shard_size=10)
    path = _shard(emb, 3)
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:100])
    enc = make_encoder()
    with pytest.raises(CacheError) as info:
        store.get_or_compute(enc, texts, shard_size=10)
    message = str(info.value)
    assert message == (
        f"Cache entry {emb.entry_id} shard 3 is truncated (expected {size} bytes, found 100). "
        "Run `headwise cache verify --repair` to drop damaged shards; the next embed recomputes them."
    )
    assert "\n" not in message
    assert enc.calls == 0
    with pytest.raises(CacheError, match="shard 3 is truncated"):
        store.lookup(enc, texts)


def test_missing_shard_raises_on_load(store, make_encoder, texts):
    emb = store.get_or_compute(make_encoder(), texts, shard_size=10)
    _shard(emb, 0).unlink()
    with pytest.raises(CacheError, match="shard 0 is missing .expected file shard-00000.npy"):
        store.get_or_compute(make_encoder(), texts, shard_size=10)


def test_shard_truncated_after_open_raises_when_read(store, make_encoder, texts):
    emb = store.get_or_compute(make_encoder(), texts, shard_size=10)
    _shard(emb, 2).write_bytes(_shard(emb, 2).read_bytes()[:90])
    with pytest.raises(CacheError, match="shard 2 is truncated"):
        emb.to_numpy()


def test_corrupt_manifest_raises_with_advice(store, make_encoder, texts):
    emb = store.get_or_compute(make_encoder(), texts)
    (emb.path / "manifest.json").write_text('{"format_version": 1, "key": ')
    with pytest.raises(CacheError, match=r"corrupt manifest \(invalid JSON.*verify --repair"):
        store.get_or_compute(make_encoder(), texts)
    [info] = store.entries()
    assert info.error is not None and "corrupt manifest" in info.error


def test_manifest_for_another_encoder_is_refused(store, make_encoder, texts):
    emb = store.get_or_compute(make_encoder(), texts)
    m = json.loads((emb.path / "manifest.json").read_text())
    m["encoder_key"]["revision"] = "r0"
    (emb.path / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(CacheError, match="does not match this request.*encoder_key"):
        store.get_or_compute(make_encoder(), texts)


def test_verify_detects_flipped_byte_and_repair_recomputes(store, make_encoder, texts):
    emb = store.get_or_compute(make_encoder(), texts, shard_size=10)
    [clean] = store.verify()
    assert clean.ok and clean.n_shards_checked == 5 and not clean.repaired

    path = _shard(emb, 2)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))
    hit = make_encoder()
    store.get_or_compute(hit, texts, shard_size=10)  # size unchanged: the cheap check passes
    assert hit.calls == 0

    [bad] = store.verify(emb.entry_id[:6])
    assert not bad.ok and bad.bad_shards == (2,) and not bad.repaired
    assert "shard 2 is corrupt" in bad.problems[0]
    [fixed] = store.verify(repair=True)
    assert fixed.repaired and fixed.bad_shards == (2,)
    assert not path.exists()
    [info] = store.entries()
    assert not info.complete and info.n_shards == 4
    assert store.lookup(make_encoder(), texts) is None

    enc = make_encoder()
    again = store.get_or_compute(enc, texts, shard_size=10)
    assert enc.calls == 1 and enc.rows == 10
    np.testing.assert_array_equal(again.to_numpy(), make_encoder().expected(texts))
    assert store.verify()[0].ok


def test_verify_repair_removes_entry_with_broken_manifest(store, make_encoder, texts):
    emb = store.get_or_compute(make_encoder(), texts)
    (emb.path / "manifest.json").write_text("not json")
    [result] = store.verify(repair=True)
    assert not result.ok and result.repaired
    assert store.entries() == []
    enc = make_encoder()
    store.get_or_compute(enc, texts)
    assert enc.calls == 1


def test_remove_by_prefix(store, make_encoder, texts):
    a = store.get_or_compute(make_encoder(), texts)
    b = store.get_or_compute(make_encoder(), texts[:10])
    assert store.remove(a.entry_id[:8]) == [a.entry_id]
    assert not a.path.exists()
    assert [e.id for e in store.entries()] == [b.entry_id]
    with pytest.raises(CacheError, match="No cache entry matches"):
        store.remove(a.entry_id)


def test_ambiguous_prefix_is_refused(tmp_path, make_encoder):
    store = EmbeddingStore(tmp_path)
    made = [store.get_or_compute(make_encoder(), [f"text {i}"]).entry_id for i in range(40)]
    first = {}
    for eid in made:
        first.setdefault(eid[0], []).append(eid)
    char, ids = max(first.items(), key=lambda kv: len(kv[1]))
    assert len(ids) > 1
    with pytest.raises(
        CacheError,
        match=re.escape(f"Entry prefix '{char}' is ambiguous: it matches {len(ids)} entries"),
    ):
        store.remove(char)
    with pytest.raises(CacheError, match="empty entry id"):
        store.remove("")
    assert len(store.entries()) == 40


def test_remove_refuses_while_a_writer_holds_the_lock(store, make_encoder, texts):
    emb = store.get_or_compute(make_encoder(), texts)
    with entry_lock(emb.path):
        with pytest.raises(CacheError, match="being written by another process"):
            store.remove(emb.entry_id)
    assert store.remove(emb.entry_id) == [emb.entry_id]


def test_entries_listing(store, make_encoder, texts):
    assert store.entries() == []
    full = store.get_or_compute(make_encoder(name="alpha"), texts, dtype="float16", shard_size=20)
    with pytest.raises(RuntimeError):
        store.get_or_compute(make_encoder(name="beta", fail_on_call=2), texts, shard_size=20)
    infos = {e.encoder_name: e for e in store.entries()}
    alpha, beta = infos["alpha"], infos["beta"]
    assert alpha.id == full.entry_id and alpha.path == full.path
    assert (alpha.n, alpha.dim, alpha.dtype, alpha.pooling) == (50, 8, "float16", "mean")
    assert (alpha.complete, alpha.n_shards, alpha.n_shards_total) == (True, 3, 3)
    assert (beta.complete, beta.n_shards, beta.n_shards_total) == (False, 1, 3)
    assert alpha.encoder_key == make_encoder(name="alpha").key()
    assert alpha.size_bytes == sum(p.stat().st_size for p in full.path.iterdir())
    assert alpha.created is not None and alpha.updated >= alpha.created
    assert alpha.error is None


def test_clear(store, make_encoder, texts):
    assert store.clear() == 0
    store.get_or_compute(make_encoder(), texts)
    store.get_or_compute(make_encoder(), texts[:5])
    assert store.clear() == 2
    assert store.entries() == []
    assert list((store.root / "v1").iterdir()) == []


def test_encoder_alias_with_same_key_hits(store, make_encoder, texts):
    original = make_encoder()
    store.get_or_compute(original, texts)
    alias = make_encoder(name="another-name")
    alias.key = original.key  # same key(): same embeddings, whatever the display name
    store.get_or_compute(alias, texts)
    assert alias.calls == 0


def test_dim_outside_key_is_caught(store, make_encoder, texts):
    store.get_or_compute(make_encoder(dim=8), texts)
    with pytest.raises(CacheError, match="has dim=8, expected 4.*key\\(\\) leaves out"):
        store.get_or_compute(make_encoder(dim=4), texts)
