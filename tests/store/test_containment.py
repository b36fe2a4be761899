"""No cache operation follows a symlink or a `..` out of the cache root; v1 entries migrate."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from headwise.exceptions import CacheError
from headwise.store import EmbeddingStore
from headwise.store._io import now, write_manifest, write_npy
from headwise.store._keys import content_digest, encoder_key, entry_key


def make_v1_entry(root: Path, enc, texts, *, shard_size=20, dtype="float32") -> Path:
    """Write an entry in the old per-dataset layout, as headwise <= v1 did."""
    texts, digest = content_digest(texts)
    ekey = encoder_key(enc)
    key = entry_key(ekey, dtype, digest)
    folder = root / "v1" / key[:24]
    folder.mkdir(parents=True)
    vectors = enc.expected(texts).astype(dtype)
    shards = []
    for i, a in enumerate(range(0, len(texts), shard_size)):
        rec = write_npy(folder / f"shard-{i:05d}.npy", vectors[a : a + shard_size])
        b = min(len(texts), a + shard_size)
        shards.append({"index": i, "start": a, "stop": b, "files": [rec], "created": now()})
    write_manifest(folder, {
        "format_version": 1, "key": key, "encoder_name": enc.name, "encoder_key": ekey,
        "dtype": dtype, "n": len(texts), "dim": enc.dim, "pooling": enc.pooling,
        "content_digest": digest, "shard_size": shard_size, "complete": True, "shards": shards,
        "created": now(), "updated": now(),
    })
    return folder


def test_v1_entry_is_migrated_not_recomputed(store, make_encoder, texts, isolated_cache):
    folder = make_v1_entry(isolated_cache, make_encoder(), texts)
    [v1] = store.entries()
    assert v1.layout == "v1" and v1.id == folder.name and v1.n == 50
    enc = make_encoder()
    emb = store.get_or_compute(enc, texts)
    assert enc.calls == 0
    np.testing.assert_array_equal(emb.to_numpy(), enc.expected(texts))
    sub = store.get_or_compute(enc, texts[5:9])  # migrated rows serve any subset now
    assert enc.calls == 0 and sub.n == 4
    assert {e.layout for e in store.entries()} == {"v1", "v2"}  # the v1 entry is kept
    assert all(r.ok for r in store.verify())


def test_v1_entry_is_found_by_lookup(store, make_encoder, texts, isolated_cache):
    make_v1_entry(isolated_cache, make_encoder(), texts, dtype="float16")
    found = store.lookup(make_encoder(), texts, dtype="float16")
    assert found is not None
    np.testing.assert_allclose(found.to_numpy(), make_encoder().expected(texts), atol=1e-2)


def test_symlinked_v1_entry_is_never_followed_by_repair(tmp_path, make_encoder, texts):
    """The issue's repro: repair used to delete a file outside the cache through a link."""
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "shard-00000.npy"
    victim.write_bytes(b"precious data that is not the cache's")
    (outside / "manifest.json").write_text(json.dumps({"shards": [{"files": [
        {"name": "shard-00000.npy", "nbytes": victim.stat().st_size, "sha256": "0" * 64}]}]}))
    root = tmp_path / "c"
    (root / "v1").mkdir(parents=True)
    os.symlink(outside, root / "v1" / ("ab" * 12))
    store = EmbeddingStore(root)
    results = store.verify(repair=True)
    assert victim.exists() and (outside / "manifest.json").exists()
    assert not (outside / ".lock").exists()
    assert any("symlink" in p for r in results for p in r.problems)
    assert not (root / "v1" / ("ab" * 12)).is_symlink()  # the link itself was removed
    assert store.clear() == 0 and victim.exists()


def test_dotdot_names_in_a_v1_manifest_are_refused(store, make_encoder, texts, isolated_cache):
    folder = make_v1_entry(isolated_cache, make_encoder(), texts)
    outside = isolated_cache.parent / "secret.npy"
    outside.write_bytes(b"x")
    m = json.loads((folder / "manifest.json").read_text())
    m["shards"][0]["files"][0]["name"] = "../../secret.npy"
    (folder / "manifest.json").write_text(json.dumps(m))
    [entry] = store.entries()
    assert entry.error is not None and "corrupt manifest" in entry.error
    [result] = store.verify(repair=True)
    assert result.repaired and outside.exists()
    m["shards"][0]["files"][0]["name"] = ".."
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps(m))
    store.verify(repair=True)  # used to crash
    assert outside.exists()


def test_symlinked_key_folder_is_refused_and_repaired(store, make_encoder, texts, tmp_path):
    emb = store.get_or_compute(make_encoder(), texts)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    keep = outside / "keep.txt"
    keep.write_text("mine")
    for p in emb.path.iterdir():
        p.unlink()
    emb.path.rmdir()
    os.symlink(outside, emb.path)
    with pytest.raises(CacheError):
        store.get_or_compute(make_encoder(), texts + ["one more"])
    store.verify(repair=True)
    store.remove  # noqa: B018 - the key was dropped by repair; remove has nothing to do
    assert keep.read_text() == "mine" and not emb.path.is_symlink()
    assert not (outside / ".lock").exists()
    enc = make_encoder()
    store.get_or_compute(enc, texts)
    assert enc.rows == 50 and all(r.ok for r in store.verify())


def test_symlinked_shard_file_is_not_read(store, make_encoder, texts, tmp_path):
    emb = store.get_or_compute(make_encoder(), texts, shard_size=10)
    shard = sorted(emb.path.glob("shard-*.npy"))[0]
    outside = tmp_path / "copy.npy"
    outside.write_bytes(shard.read_bytes())
    shard.unlink()
    os.symlink(outside, shard)
    with pytest.raises(CacheError, match="not a regular file"):
        EmbeddingStore(store.root).get_or_compute(make_encoder(), texts, shard_size=10)
    store.verify(repair=True)
    assert outside.exists() and not shard.exists()


def test_foreign_names_in_the_index_are_never_joined(store, make_encoder, texts, tmp_path):
    import sqlite3

    emb = store.get_or_compute(make_encoder(), texts, shard_size=10)
    target = tmp_path / "victim.npy"
    target.write_bytes(b"x")
    with sqlite3.connect(store.root / "v2" / "index.sqlite") as con:
        con.execute("UPDATE shards SET name = ? WHERE id = 1", (f"../../{target.name}",))
    [result] = store.verify(repair=True)
    assert result.repaired and target.exists()
    assert emb.path.is_dir()
