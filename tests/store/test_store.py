"""EmbeddingStore.get_or_compute / lookup and EmbeddingSet reading."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from headwise.exceptions import InputError
from headwise.store import EmbeddingSet, EmbeddingStore


def test_round_trip_float32_is_exact(store, make_encoder, texts):
    enc = make_encoder()
    emb = store.get_or_compute(enc, texts, shard_size=16)
    assert isinstance(emb, EmbeddingSet)
    assert (len(emb), emb.n, emb.dim, emb.dtype) == (50, 50, 8, np.dtype("float32"))
    expected = enc.expected(texts)
    np.testing.assert_array_equal(emb.to_numpy(), expected)
    np.testing.assert_array_equal(np.asarray(emb), expected)
    assert emb.encoder_key == enc.key()
    assert enc.calls == 4  # ceil(50 / 16) shards, one encode call each
    assert [len(s) for s in emb.shards()] == [16, 16, 16, 2]
    assert all(kw == {"batch_size": 32, "progress": False} for kw in enc.kwargs)
    with pytest.raises(InputError, match="pooled embeddings"):
        emb.token_embeddings()


def test_round_trip_float16_within_tolerance(store, make_encoder, texts):
    enc = make_encoder()
    emb = store.get_or_compute(enc, texts, dtype="float16", shard_size=16)
    assert emb.dtype == np.float16
    assert next(emb.shards()).dtype == np.float16
    out = emb.to_numpy()
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, enc.expected(texts), rtol=1e-3, atol=1e-3)
    size16 = sum(f.stat().st_size for f in emb.path.glob("shard-*.npy"))
    emb32 = store.get_or_compute(enc, texts, dtype="float32", shard_size=16)
    size32 = sum(f.stat().st_size for f in emb32.path.glob("shard-*.npy"))
    assert emb32.path != emb.path
    assert size32 - size16 == 50 * 8 * 2  # half the data bytes; headers are equal


def test_layout_and_manifest(store, make_encoder, texts, isolated_cache):
    emb = store.get_or_compute(make_encoder(), texts, shard_size=20)
    assert emb.path.parent == isolated_cache / "v1"
    assert emb.path.name == emb.key[:24]
    names = sorted(p.name for p in emb.path.iterdir())
    assert names == [
        ".lock",
        "manifest.json",
        "shard-00000.npy",
        "shard-00001.npy",
        "shard-00002.npy",
    ]
    m = json.loads((emb.path / "manifest.json").read_text())
    assert m["complete"] is True
    assert (m["format_version"], m["n"], m["dim"], m["dtype"], m["shard_size"]) == (
        1,
        50,
        8,
        "float32",
        20,
    )
    assert [(s["index"], s["start"], s["stop"]) for s in m["shards"]] == [
        (0, 0, 20),
        (1, 20, 40),
        (2, 40, 50),
    ]
    rec = m["shards"][0]["files"][0]
    assert rec["nbytes"] == (emb.path / "shard-00000.npy").stat().st_size
    mm = np.load(emb.path / "shard-00000.npy", mmap_mode="r")
    assert isinstance(mm, np.memmap) and mm.shape == (20, 8)


def test_hit_does_not_call_encoder(store, make_encoder, texts):
    first = store.get_or_compute(make_encoder(), texts).to_numpy()
    enc = make_encoder()
    again = store.get_or_compute(enc, list(texts))
    assert enc.calls == 0
    np.testing.assert_array_equal(again.to_numpy(), first)


def test_default_root_follows_env(isolated_cache):
    assert EmbeddingStore().root == isolated_cache


def test_lookup_never_computes(store, make_encoder, texts):
    enc = make_encoder()
    assert store.lookup(enc, texts) is None
    with pytest.raises(RuntimeError):
        store.get_or_compute(make_encoder(fail_on_call=2), texts, shard_size=10)
    assert store.lookup(enc, texts) is None  # incomplete entries are not returned
    store.get_or_compute(make_encoder(), texts)
    found = store.lookup(enc, texts)
    assert enc.calls == 0
    np.testing.assert_array_equal(found.to_numpy(), enc.expected(texts))
    assert store.lookup(enc, texts, dtype="float16") is None


def test_resume_after_interruption(tmp_path, make_encoder, texts):
    store = EmbeddingStore(tmp_path / "a")
    with pytest.raises(RuntimeError, match="killed on call 3"):
        store.get_or_compute(make_encoder(fail_on_call=3), texts, shard_size=8)
    [info] = store.entries()
    assert (info.complete, info.n_shards, info.n_shards_total) == (False, 2, 7)

    counting = make_encoder()
    resumed = store.get_or_compute(counting, texts, shard_size=8)
    assert counting.calls == 5 and counting.rows == 50 - 16
    reference = EmbeddingStore(tmp_path / "b").get_or_compute(make_encoder(), texts, shard_size=8)
    np.testing.assert_array_equal(resumed.to_numpy(), reference.to_numpy())
    shards = sorted(resumed.path.glob("shard-*")), sorted(reference.path.glob("shard-*"))
    assert len(shards[0]) == len(shards[1]) == 7
    for a, b in zip(*shards, strict=True):
        assert a.read_bytes() == b.read_bytes()
    assert store.entries()[0].complete


def test_existing_entry_keeps_its_shard_size(store, make_encoder, texts):
    with pytest.raises(RuntimeError):
        store.get_or_compute(make_encoder(fail_on_call=2), texts, shard_size=10)
    enc = make_encoder()
    emb = store.get_or_compute(enc, texts, shard_size=7)
    assert enc.calls == 4
    assert [len(s) for s in emb.shards()] == [10] * 5


def test_stray_temp_files_and_orphan_shards_are_cleaned(store, make_encoder, texts):
    with pytest.raises(RuntimeError):
        store.get_or_compute(make_encoder(fail_on_call=2), texts, shard_size=10)
    [info] = store.entries()
    (info.path / ".shard-00001.npy.123.abcd.tmp").write_bytes(b"half")
    (info.path / "shard-00003.npy").write_bytes(b"written but never recorded")
    emb = store.get_or_compute(make_encoder(), texts, shard_size=10)
    assert not list(info.path.glob("*.tmp"))
    np.testing.assert_array_equal(emb.to_numpy(), make_encoder().expected(texts))


def test_concurrent_runs_do_not_interleave(store, make_encoder, texts):
    calls = []

    class Slow(type(make_encoder())):
        def encode(self, inputs, **kw):
            calls.append(len(inputs))
            time.sleep(0.02)
            return super().encode(inputs, **kw)

    results = []
    threads = [
        threading.Thread(
            target=lambda: results.append(store.get_or_compute(Slow(), texts, shard_size=10))
        )
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(calls) == 50  # the second run waited for the lock, then hit the cache
    np.testing.assert_array_equal(results[0].to_numpy(), results[1].to_numpy())


def test_take_iter_batches_and_masks(store, make_encoder, texts):
    enc = make_encoder()
    emb = store.get_or_compute(enc, texts, dtype="float16", shard_size=7)
    full = emb.to_numpy()
    idx = np.array([49, 0, 7, 6, 6, -1, 13])
    np.testing.assert_array_equal(emb.take(idx), full[idx])
    mask = np.arange(50) % 3 == 0
    np.testing.assert_array_equal(emb.take(mask), full[mask])
    assert emb.take([]).shape == (0, 8)
    batches = list(emb.iter_batches(16))
    assert [len(b) for b in batches] == [16, 16, 16, 2]
    assert all(b.dtype == np.float32 for b in batches)
    np.testing.assert_array_equal(np.concatenate(batches), full)
    perm = np.random.default_rng(0).permutation(50)
    np.testing.assert_array_equal(np.concatenate(list(emb.iter_batches(9, perm))), full[perm])
    with pytest.raises(InputError, match="Index 50 is out of range"):
        emb.take([50])
    with pytest.raises(InputError, match="1-D array of integers"):
        emb.take([0.5])
    with pytest.raises(InputError, match="positive int"):
        next(emb.iter_batches(0))


def test_tokens_round_trip(store, make_encoder):
    texts = ["one two three", "", "four", "five six", "seven eight nine ten", "x"]
    enc = make_encoder(pooling="tokens")
    emb = store.get_or_compute(enc, texts, shard_size=2, dtype="float32")
    expected = enc.encode(texts)
    assert emb.pooling == "tokens" and emb.n == 6 and emb.n_tokens == 11
    np.testing.assert_array_equal(emb.token_offsets, expected.offsets)
    all_tokens = emb.token_embeddings()
    np.testing.assert_array_equal(all_tokens.vectors, expected.vectors)
    np.testing.assert_array_equal(all_tokens.offsets, expected.offsets)
    sub = emb.token_embeddings([4, 1, 0])
    assert len(sub) == 3
    np.testing.assert_array_equal(sub.offsets, [0, 4, 4, 7])
    np.testing.assert_array_equal(sub[0], expected.vectors[6:10])
    np.testing.assert_array_equal(sub[2], expected.vectors[0:3])
    assert (emb.path / "shard-00000.offsets.npy").exists()
    with pytest.raises(InputError, match="per-token embeddings"):
        emb.to_numpy()
    hit = make_encoder(pooling="tokens")
    store.get_or_compute(hit, texts, shard_size=2)
    assert hit.calls == 0


def test_tokens_all_empty_shard(store, make_encoder):
    enc = make_encoder(pooling="tokens")
    emb = store.get_or_compute(enc, ["a b", "", ""], shard_size=1)
    np.testing.assert_array_equal(emb.token_offsets, [0, 2, 2, 2])
    assert emb.token_embeddings([1, 2]).vectors.shape == (0, 8)


def test_nan_outputs_are_refused(store, make_encoder, texts):
    enc = make_encoder(nan_inputs=[texts[23], texts[27]])
    with pytest.raises(
        InputError, match="NaN or infinite values for 2 of 10 inputs .first: input 23"
    ):
        store.get_or_compute(enc, texts, shard_size=10)
    [info] = store.entries()
    assert info.n_shards == 2 and not info.complete  # earlier shards kept for a resume


def test_float16_overflow_is_refused(store, make_encoder, texts):
    enc = make_encoder()
    enc.encode = lambda inputs, **kw: np.full((len(inputs), 8), 1e6, np.float32)
    with pytest.raises(InputError, match="beyond float16's range"):
        store.get_or_compute(enc, texts, dtype="float16")


@pytest.mark.parametrize("out_dim", [7, 9])
def test_wrong_dim_is_refused(store, make_encoder, texts, out_dim):
    with pytest.raises(InputError, match=rf"shape \(50, {out_dim}\).*expected \(50, 8\)"):
        store.get_or_compute(make_encoder(out_dim=out_dim), texts)


def test_wrong_row_count_and_kind_are_refused(store, make_encoder, texts):
    enc = make_encoder()
    enc.encode = lambda inputs, **kw: np.zeros((len(inputs) - 1, 8), np.float32)
    with pytest.raises(InputError, match=r"shape \(49, 8\)"):
        store.get_or_compute(enc, texts)
    tok = make_encoder(pooling="tokens")
    tok.encode = lambda inputs, **kw: np.zeros((len(inputs), 8), np.float32)
    with pytest.raises(InputError, match="expected an object with .vectors and .offsets"):
        store.get_or_compute(tok, texts)


def test_empty_inputs_raise(store, make_encoder):
    with pytest.raises(InputError, match="inputs is empty"):
        store.get_or_compute(make_encoder(), [])
    with pytest.raises(InputError, match="Input 0 is int"):
        store.get_or_compute(make_encoder(), [1, 2])


@pytest.mark.parametrize(
    ("param", "value"), [("shard_size", 0), ("batch_size", -1), ("batch_size", 2.5)]
)
def test_bad_parameters_raise(store, make_encoder, texts, param, value):
    with pytest.raises(InputError, match=f"The '{param}' parameter"):
        store.get_or_compute(make_encoder(), texts, **{param: value})


def test_one_progress_bar_over_all_rows(store, make_encoder, texts, monkeypatch):
    import headwise.store._store as store_module

    bars = []
    real = store_module.progress_bar

    def spy(total, description, enabled=None):
        bars.append({"total": total, "description": description, "enabled": enabled})
        return real(total, description, enabled=False)

    monkeypatch.setattr(store_module, "progress_bar", spy)
    with pytest.raises(RuntimeError):
        store.get_or_compute(make_encoder(fail_on_call=3), texts, shard_size=10, progress=True)
    store.get_or_compute(make_encoder(), texts, shard_size=10, progress=True)
    store.get_or_compute(make_encoder(), texts, shard_size=10, progress=True)  # hit: no bar
    assert bars == [{"total": 50, "description": "Embedding with fake", "enabled": True}] * 2


_KILLED_RUN = """
import os, signal, sys
import numpy as np
from headwise.store import EmbeddingStore
from headwise.store import _io

class Enc:
    name, dim, pooling = "fake", 8, "mean"
    def key(self):
        return {"name": "fake", "revision": "r1", "pooling": "mean"}
    def encode(self, inputs, **kw):
        return np.full((len(inputs), 8), float(len(inputs)), np.float32)

real_replace, calls = os.replace, [0]
def replace(src, dst):
    calls[0] += 1
    if calls[0] == int(sys.argv[2]):  # die between writing a temp file and renaming it
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)
_io.os.replace = replace
EmbeddingStore(sys.argv[1]).get_or_compute(Enc(), [f"t{i}" for i in range(50)], shard_size=10)
"""


@pytest.mark.parametrize("die_on_replace", [4, 5])  # before a shard's rename / a manifest's
def test_sigkill_mid_write_leaves_a_resumable_entry(tmp_path, make_encoder, die_on_replace):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN, str(tmp_path), str(die_on_replace)], check=False
    )
    assert proc.returncode == -9
    store = EmbeddingStore(tmp_path)
    [info] = store.entries()
    assert (info.complete, info.n_shards) == (False, 1)
    assert list(info.path.glob(".*.tmp")) or list(info.path.glob("shard-00001.npy"))

    enc = make_encoder()
    enc.encode = lambda inputs, **kw: np.full((len(inputs), 8), float(len(inputs)), np.float32)
    emb = store.get_or_compute(enc, [f"t{i}" for i in range(50)], shard_size=10)
    assert not list(info.path.glob(".*.tmp"))
    np.testing.assert_array_equal(emb.to_numpy(), np.full((50, 8), 10.0, np.float32))
    assert store.verify()[0].ok
