"""Golden bytes and fields: the on-disk format (v1) that existing caches depend on."""

from __future__ import annotations

import io
import json

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


def test_manifest_fields(store, make_encoder):
    emb = store.get_or_compute(make_encoder(pooling="tokens"), ["a b", "c"], shard_size=1)
    m = json.loads((emb.path / "manifest.json").read_text())
    assert sorted(m) == [
        "complete", "content_digest", "created", "dim", "dtype", "encoder_key", "encoder_name",
        "format_version", "key", "n", "pooling", "shard_size", "shards", "updated",
    ]  # fmt: skip
    shard = m["shards"][0]
    assert sorted(shard) == ["created", "files", "index", "n_tokens", "start", "stop"]
    assert [f["name"] for f in shard["files"]] == ["shard-00000.npy", "shard-00000.offsets.npy"]
    assert sorted(shard["files"][0]) == ["name", "nbytes", "sha256"]
    assert (m["key"], m["encoder_name"], m["pooling"]) == (emb.key, "fake", "tokens")
