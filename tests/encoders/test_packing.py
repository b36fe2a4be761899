"""Sequence packing (:mod:`headwise.encoders._packing`): the plan, the feed and the pooling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headwise.encoders._batching import pad_batch, pool
from headwise.encoders._packing import _TAIL, pack_batch, plan_packed, pool_packed

lengths_st = st.lists(st.integers(0, 40), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(
    lengths=lengths_st,
    batch_size=st.integers(1, 70),
    max_tokens=st.one_of(st.none(), st.integers(1, 300)),
)
def test_plan_places_every_input_once_within_its_rows(lengths, batch_size, max_tokens):
    lengths = np.array(lengths)
    passes = plan_packed(lengths, batch_size, max_tokens)
    placed = [k for rows in passes for row in rows for k in row]
    assert sorted(placed) == list(range(len(lengths)))
    for rows in passes:
        assert rows and all(rows)
        width = max(max(int(lengths[k]) for row in rows for k in row), 1)
        assert all(lengths[row].sum() <= width for row in rows)  # a row fits the pass's width
        assert sum(len(row) for row in rows) <= batch_size
        if max_tokens is not None and len(rows) > 1:  # the cap, stretched only for a short tail
            assert len(rows) * width <= max_tokens * (1 + _TAIL)


def test_plan_fills_gaps_with_the_shortest_inputs():
    # one 10-token input and five 2-token ones: one row of 10, then the gaps
    passes = plan_packed(np.array([2, 10, 2, 2, 2, 2]), 8, max_tokens=20)
    assert passes == [[[1], [0, 2, 3, 4, 5]]]
    # passes of one 6-token row; the last 5 tokens are a short tail (<= 1.25 x 6): two rows of 3
    assert plan_packed(np.array([6, 3, 1, 1]), 8, max_tokens=6) == [[[0]], [[1], [2, 3]]]
    # a 12-token cap: rows of 6, the longest first, then the gaps from the shortest end
    assert plan_packed(np.array([6, 5, 4, 1, 1]), 8, 12) == [[[0], [1, 4]], [[2], [3]]]


def test_plan_without_packing_room_is_one_input_per_row():
    passes = plan_packed(np.array([5, 5, 5, 5]), 2, max_tokens=None)
    assert passes == [[[0], [1]], [[2], [3]]]


@settings(max_examples=100, deadline=None)
@given(lengths=st.lists(st.integers(1, 12), min_size=1, max_size=20), seed=st.integers(0, 99))
def test_packed_feed_and_pooling_equal_the_padded_ones(lengths, seed):
    """Every input's tokens come back from the packed layout in order, so pooling a hidden state
    that depends only on (input, position) gives what the padded batch gives."""
    rng = np.random.default_rng(seed)
    offsets = np.r_[0, np.cumsum(lengths)]
    ids = rng.integers(5, 1000, offsets[-1])
    types = rng.integers(0, 2, offsets[-1])
    rows = plan_packed(np.array(lengths), len(lengths), None)[0]
    batch = pack_batch(rows, ids, types, offsets, pad_id=0)
    feed = batch.feed
    assert set(feed) == {"input_ids", "segment_ids", "position_ids", "token_type_ids"}
    real = feed["segment_ids"] > 0
    assert real.sum() == offsets[-1] and (feed["input_ids"][~real] == 0).all()
    flat = {name: value.reshape(-1) for name, value in feed.items()}
    for n, k in enumerate(batch.inputs):  # input k's tokens, positions 0.., its own segment
        span = batch.tokens[batch.starts[n] : batch.starts[n + 1]]
        np.testing.assert_array_equal(flat["input_ids"][span], ids[offsets[k] : offsets[k + 1]])
        np.testing.assert_array_equal(flat["token_type_ids"][span], types[offsets[k] : offsets[k + 1]])
        np.testing.assert_array_equal(flat["position_ids"][span], np.arange(lengths[k]))
        assert len(set(flat["segment_ids"][span])) == 1
        row = span // feed["input_ids"].shape[1]
        assert (row == row[0]).all()  # one input never spans two rows
    # hidden state of a token: a function of its id and position only
    table = rng.normal(size=(1000, 64, 6)).astype(np.float32)
    h_packed = table[feed["input_ids"], feed["position_ids"]]
    padded = pad_batch(batch.inputs, ids, None, offsets, pad_id=0)
    width = padded["input_ids"].shape[1]
    h_padded = table[padded["input_ids"], np.broadcast_to(np.arange(width), padded["input_ids"].shape)]
    for pooling in ("mean", "cls"):
        for normalize in (False, True):
            np.testing.assert_allclose(
                pool_packed(h_packed, batch, pooling, normalize),
                pool(h_padded, padded["attention_mask"], pooling, normalize),
                rtol=1e-5,
                atol=1e-6,
            )
    tokens = pool_packed(h_packed, batch, "tokens", False)
    np.testing.assert_array_equal(tokens, h_padded[padded["attention_mask"].astype(bool)])


def test_empty_inputs_pool_to_zeros():
    offsets = np.array([0, 0, 3])
    batch = pack_batch([[1, 0]], np.array([7, 8, 9]), None, offsets, pad_id=0)
    h = np.ones((1, 3, 4), dtype=np.float32)
    for pooling in ("mean", "cls"):
        v = pool_packed(h, batch, pooling, normalize=True)
        assert v.shape == (2, 4) and np.isfinite(v).all()
        np.testing.assert_array_equal(v[list(batch.inputs).index(0)], 0.0)


@pytest.mark.parametrize("lengths", [[], [0]])
def test_plan_edge_cases(lengths):
    assert sum(len(r) for p in plan_packed(np.array(lengths, dtype=int), 4, 512) for r in p) == len(lengths)
