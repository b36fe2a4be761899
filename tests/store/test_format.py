"""Golden bytes and fields: shard files (plain .npy, v1 and v2) and the v2 index schema."""

from __future__ import annotations

import io

import numpy as np

from headwise.store._io import write_npy


def test_shard_files_are_plain_npy_with_pinned_bytes(tmp_path):
    cases = [
        (
            np.arange(6, dtype="<f4").reshape(2, 3),
            152,
            "47d9cb788e60cfff38faf2237400d94063bde1f42a0ad39297e02642caca6b56",
        ),
        (
            np.arange(6, dtype="<f2").reshape(3, 2),
            140,
            "bd5e05caefc803796cb6a62b99b064f97eca4ba6ec52a3b03daecd7800f13232",
        ),
        (
            np.array([0, 2, 3], dtype="<i8"),
            152,
            "7d277e6379dae2485be5ad51e9a7876d54a8a82310c319cde9eeaf1a82b849d6",
        ),
    ]
    for i, (array, nbytes, sha) in enumerate(cases):
        path = tmp_path / f"shard-{i:05d}.npy"
        assert write_npy(path, array) == {"name": path.name, "nbytes": nbytes, "sha256": sha}
        buf = io.BytesIO()
        np.save(buf, array)
        assert path.read_bytes() == buf.getvalue()
        assert not list(tmp_path.glob(".*.tmp"))


def test_index_schema_is_pinned(store, make_encoder):
    import sqlite3

    store.get_or_compute(make_encoder(pooling="tokens"), ["a b", "c"], shard_size=1)
    con = sqlite3.connect(store.root / "v2" / "index.sqlite")
    columns = {
        t: [r[1] for r in con.execute(f"PRAGMA table_info({t})")]
        for t in ("encoders", "shards", "rows", "datasets")
    }
    assert columns == {
        "encoders": ["id", "key_id", "key_json", "name", "dim", "dtype", "pooling", "created"],
        "shards": ["id", "enc", "name", "n_rows", "n_vectors", "nbytes", "sha256", "created"],
        "rows": ["enc", "hash", "shard", "pos", "len"],
        "datasets": ["id", "enc", "digest", "name", "n", "hashes", "created", "used"],
    }
    rows = con.execute("SELECT hash, pos, len FROM rows").fetchall()
    assert sorted((len(h), p, n) for h, p, n in rows) == [(32, 0, 1), (32, 0, 2)]
    assert {bytes(h).hex()[:8]: n for h, _, n in rows} == {hashlib_hex("a b"): 2, hashlib_hex("c"): 1}


def hashlib_hex(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:8]
