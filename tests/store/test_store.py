"""EmbeddingStore.get_or_compute / lookup and EmbeddingSet reading (row-level store, v2)."""

from __future__ import annotations

import sqlite3
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
    np.testing.assert_array_equal(np.concatenate(list(emb.shards())), expected)
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
    assert emb32.path != emb.path  # the storage dtype is part of the encoder key
    assert size32 - size16 == 50 * 8 * 2


def test_layout_and_index(store, make_encoder, texts, isolated_cache):
    emb = store.get_or_compute(make_encoder(), texts, shard_size=20)
    assert emb.path.parent == isolated_cache / "v2"
    assert emb.path.name == emb.key_id and len(emb.key_id) == 24
    shards = sorted(p.name for p in emb.path.glob("shard-*.npy"))
    assert len(shards) == 3 and all(len(n) == len("shard-0123456789abcdef.npy") for n in shards)
    con = sqlite3.connect(isolated_cache / "v2" / "index.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("SELECT count(*) FROM rows").fetchone()[0] == 50
    assert sorted(r[0] for r in con.execute("SELECT n_rows FROM shards")) == [10, 20, 20]
    assert con.execute("SELECT n FROM datasets").fetchall() == [(50,)]
    mm = np.load(emb.path / shards[0], mmap_mode="r")
    assert isinstance(mm, np.memmap) and mm.shape[1] == 8


def test_hit_does_not_call_encoder(store, make_encoder, texts):
    first = store.get_or_compute(make_encoder(), texts).to_numpy()
    enc = make_encoder()
    again = store.get_or_compute(enc, list(texts))
    assert enc.calls == 0
    np.testing.assert_array_equal(again.to_numpy(), first)


@pytest.mark.parametrize(
    ("cached", "requested", "encoded"),
    [
        (slice(0, 50), slice(10, 30), 0),  # subset
        (slice(10, 30), slice(0, 50), 30),  # superset
        (slice(0, 50), slice(None, None, -1), 0),  # reordering
        (slice(0, 40), slice(0, 50), 10),  # appended rows
    ],
)
def test_only_missing_rows_are_encoded(store, make_encoder, texts, cached, requested, encoded):
    store.get_or_compute(make_encoder(), texts[cached])
    enc = make_encoder()
    emb = store.get_or_compute(enc, texts[requested])
    assert enc.rows == encoded
    np.testing.assert_array_equal(emb.to_numpy(), enc.expected(texts[requested]))


def test_duplicates_are_encoded_once(store, make_encoder, texts):
    enc = make_encoder()
    doubled = texts[:5] + texts[:5] + ["new"]
    emb = store.get_or_compute(enc, doubled)
    assert enc.rows == 6
    np.testing.assert_array_equal(emb.to_numpy(), enc.expected(doubled))


def test_default_root_follows_env(isolated_cache):
    assert EmbeddingStore().root == isolated_cache


def test_lookup_never_computes(store, make_encoder, texts):
    enc = make_encoder()
    assert store.lookup(enc, texts) is None
    with pytest.raises(RuntimeError):
        store.get_or_compute(make_encoder(fail_on_call=2), texts, shard_size=10)
    assert store.lookup(enc, texts) is None  # rows 10..49 are missing
    assert store.lookup(enc, texts[:10]) is not None  # the committed shard is served
    store.get_or_compute(make_encoder(), texts)
    found = store.lookup(enc, texts)
    assert enc.calls == 0
    np.testing.assert_array_equal(found.to_numpy(), enc.expected(texts))
    assert store.lookup(enc, texts, dtype="float16") is None


def test_resume_after_interruption_loses_at_most_one_shard(tmp_path, make_encoder, texts):
    store = EmbeddingStore(tmp_path / "a")
    with pytest.raises(RuntimeError, match="killed on call 3"):
        store.get_or_compute(make_encoder(fail_on_call=3), texts, shard_size=8)
    [info] = store.entries()
    assert (info.n, info.n_shards) == (16, 2)
    counting = make_encoder()
    resumed = store.get_or_compute(counting, texts, shard_size=8)
    assert counting.rows == 50 - 16
    reference = EmbeddingStore(tmp_path / "b").get_or_compute(make_encoder(), texts, shard_size=8)
    np.testing.assert_array_equal(resumed.to_numpy(), reference.to_numpy())
    assert store.verify()[0].ok


@pytest.mark.parametrize(("fast", "calls"), [(False, 3), (True, 2)])
def test_shards_hold_256_rows_unless_encoding_is_fast(store, make_encoder, monkeypatch, fast, calls):
    import headwise.store._store as store_module

    # an encode call "takes under half a second" always (fast) or never: no real timing
    monkeypatch.setattr(store_module, "_FAST_SECONDS", float("inf") if fast else 0.0)
    many = [f"row {i}" for i in range(600)]
    enc = make_encoder()
    emb = store.get_or_compute(enc, many)
    assert enc.calls == calls and enc.rows == 600  # slow: 256+256+88; fast: 256, then 512
    np.testing.assert_array_equal(emb.to_numpy(), enc.expected(many))
    enc = make_encoder()
    store.get_or_compute(enc, [f"other {i}" for i in range(600)], shard_size=4096)
    assert enc.calls == 3  # an explicit shard_size is capped at 256 and never grows


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
    assert sum(calls) == 50  # the second run waited for the key's lock, then hit the cache
    np.testing.assert_array_equal(results[0].to_numpy(), results[1].to_numpy())


@pytest.mark.parametrize("round_", range(5))
def test_many_threads_opening_a_fresh_index_all_get_in(tmp_path, round_):
    # the contract: every thread that opens a fresh index gets in. The first open's set-up
    # (WAL switch, schema) could answer "database is locked" without waiting out the busy
    # timeout, and the thread that lost the race failed with "index is damaged": about 1 run in
    # 100 of two concurrent get_or_compute calls, under load. This test does not hit that
    # window reliably; it guards the retry around the set-up against regressions.
    from headwise.store._index import Index

    base = tmp_path / f"r{round_}"
    base.mkdir()
    errors, start = [], threading.Barrier(8)

    def open_and_write(i):
        try:
            start.wait()
            Index(base).add_encoder({
                "key_id": f"k{i}", "key_json": "{}", "name": f"e{i}", "dim": 4,
                "dtype": "float32", "pooling": "mean", "created": "now",
            })
        except Exception as exc:  # noqa: BLE001  (collected, asserted below)
            errors.append(exc)

    threads = [threading.Thread(target=open_and_write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with sqlite3.connect(base / "index.sqlite") as con:
        assert con.execute("SELECT COUNT(*) FROM encoders").fetchone()[0] == 8


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
    with pytest.raises(InputError, match="per-token embeddings"):
        emb.to_numpy()
    hit = make_encoder(pooling="tokens")
    reordered = store.get_or_compute(hit, texts[::-1], shard_size=2)
    assert hit.calls == 0
    np.testing.assert_array_equal(reordered.token_embeddings([5]).vectors, expected.vectors[0:3])


def test_tokens_all_empty_shard(store, make_encoder):
    enc = make_encoder(pooling="tokens")
    emb = store.get_or_compute(enc, ["a b", "", " "], shard_size=1)
    np.testing.assert_array_equal(emb.token_offsets, [0, 2, 2, 2])
    assert emb.token_embeddings([1, 2]).vectors.shape == (0, 8)


def test_nan_outputs_are_refused(store, make_encoder, texts):
    enc = make_encoder(nan_inputs=[texts[23], texts[27]])
    with pytest.raises(
        InputError, match="NaN or infinite values for 2 of 10 inputs .first: input 23"
    ):
        store.get_or_compute(enc, texts, shard_size=10)
    [info] = store.entries()
    assert info.n == 20  # earlier shards kept for a resume


def test_failure_before_any_row_leaves_nothing(store, make_encoder, texts, isolated_cache):
    with pytest.raises(InputError):
        store.get_or_compute(make_encoder(nan_inputs=[texts[0]]), texts, shard_size=10)
    assert store.entries() == []  # no empty key is listed
    assert all(r.ok for r in store.verify())


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
from headwise import _atomic
from headwise.store import EmbeddingStore

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
_atomic.os.replace = replace
EmbeddingStore(sys.argv[1]).get_or_compute(Enc(), [f"t{i}" for i in range(50)], shard_size=10)
"""


@pytest.mark.parametrize("die_on_replace", [2, 3])
def test_sigkill_mid_write_leaves_a_resumable_store(tmp_path, make_encoder, die_on_replace):
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN, str(tmp_path), str(die_on_replace)], check=False
    )
    assert proc.returncode == -9
    store = EmbeddingStore(tmp_path)
    [info] = store.entries()
    assert info.n == 10 * (die_on_replace - 1)
    assert list(info.path.glob(".*.tmp"))
    [dirty] = store.verify()
    assert not dirty.ok and dirty.strays

    enc = make_encoder()
    enc.encode = lambda inputs, **kw: np.full((len(inputs), 8), float(len(inputs)), np.float32)
    emb = store.get_or_compute(enc, [f"t{i}" for i in range(50)], shard_size=10)
    np.testing.assert_array_equal(emb.to_numpy(), np.full((50, 8), 10.0, np.float32))
    assert not list(info.path.glob(".*.tmp"))  # the resume cleaned up under the key's lock
    assert store.verify()[0].ok
