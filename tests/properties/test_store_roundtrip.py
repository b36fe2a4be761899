"""The store round-trips whatever an encoder returns, for any texts and any shard size."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from headwise.store import EmbeddingStore


class ArrayEncoder:
    """Returns the rows of a fixed array: row i for the text first seen at position i.

    (With pooled output an encoder must map equal inputs to equal vectors: the row store keeps
    one vector per distinct input; token output is returned in call order, texts are distinct.)
    """

    def __init__(
        self, values: np.ndarray, offsets: np.ndarray | None = None, texts: Sequence[str] = ()
    ) -> None:
        self.values, self.offsets = values, offsets
        self.row: dict[str, int] = {}
        for i, t in enumerate(texts):
            self.row.setdefault(t, i)
        self.name, self.dim = "array", values.shape[1]
        self.pooling = "mean" if offsets is None else "tokens"
        self.cursor = 0

    def key(self) -> dict[str, object]:
        return {"name": self.name, "values": self.values.tobytes().hex(), "pooling": self.pooling}

    def encode(self, inputs: Sequence[str], *, batch_size: int = 32, progress: bool | None = None):
        if self.offsets is None:
            return self.values[[self.row[t] for t in inputs]]
        a, b = self.cursor, self.cursor + len(inputs)
        self.cursor = b
        off = self.offsets[a : b + 1]
        return _Tokens(self.values[off[0] : off[-1]], off - off[0])


class _Tokens:
    def __init__(self, vectors: np.ndarray, offsets: np.ndarray) -> None:
        self.vectors, self.offsets = vectors, offsets


@st.composite
def cases(draw: st.DrawFn, dtype: str) -> tuple[list[str], np.ndarray, int]:
    n = draw(st.integers(1, 16))
    dim = draw(st.integers(1, 6))
    width = 16 if dtype == "float16" else 32
    floats = st.floats(width=width, allow_nan=False, allow_infinity=False)
    values = draw(arrays(np.dtype(dtype), (n, dim), elements=floats))
    texts = draw(st.lists(st.text(max_size=8), min_size=n, max_size=n))  # duplicates allowed
    return texts, values, draw(st.integers(max(1, n // 4), n + 3))  # 1 to ~5 shards


@settings(max_examples=25, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(["float32", "float16"]))
def test_store_round_trips_exactly(data: st.DataObject, dtype: str) -> None:
    texts, values, shard_size = data.draw(cases(dtype))
    with tempfile.TemporaryDirectory() as root:
        store = EmbeddingStore(root)
        enc = ArrayEncoder(values, texts=texts)
        emb = store.get_or_compute(enc, texts, dtype=dtype, shard_size=shard_size)
        expected = values[[enc.row[t] for t in texts]].astype(np.float32)
        np.testing.assert_array_equal(emb.to_numpy(), expected)
        np.testing.assert_array_equal(np.concatenate(list(emb.iter_batches(5))), expected)
        order = data.draw(st.permutations(range(len(texts))))
        np.testing.assert_array_equal(emb.take(np.array(order)), expected[order])
        again = store.lookup(ArrayEncoder(values, texts=texts), texts, dtype=dtype)
        assert again is not None and again.key == emb.key
        assert store.verify()[0].ok


@settings(max_examples=20, deadline=None)
@given(
    counts=st.lists(st.integers(0, 4), min_size=1, max_size=8),
    dim=st.integers(1, 4),
    shard_size=st.integers(2, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_token_entries_round_trip(counts: list[int], dim: int, shard_size: int, seed: int) -> None:
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    values = np.random.default_rng(seed).standard_normal((int(offsets[-1]), dim)).astype(np.float32)
    texts = [f"text {i}" for i in range(len(counts))]
    with tempfile.TemporaryDirectory() as root:
        emb = EmbeddingStore(root).get_or_compute(
            ArrayEncoder(values, offsets), texts, shard_size=shard_size
        )
        tokens = emb.token_embeddings()
        np.testing.assert_array_equal(tokens.offsets, offsets)
        np.testing.assert_array_equal(tokens.vectors, values)
        pick = np.arange(len(counts))[::-1]
        sub = emb.token_embeddings(pick)
        for j, i in enumerate(pick):
            np.testing.assert_array_equal(sub[j], values[offsets[i] : offsets[i + 1]])
