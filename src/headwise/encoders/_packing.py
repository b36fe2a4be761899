"""Sequence packing: several inputs share one row of a transformer's forward pass.

A padded batch pays for every row up to its longest input, and every forward pass pays a fixed
price (on a CPU, mostly streaming the weights through the caches once). Sorting by length keeps
the padding small when there are many inputs to sort; a micro-batch of a few dozen unsorted
requests has no such luck: padded to its longest it wastes half its work, split by length it pays
the fixed price several times. Packing places inputs end to end in rows of a common width. A
block-diagonal attention bias (built in the graph from ``segment_ids``: an input's tokens attend
only to tokens of the same segment) and position ids that restart at 0 for every input make each
input's hidden states those of its own forward pass, to float rounding, so one pass holds inputs
of any mix of lengths with almost no padding.

A pass's rows are as wide as its longest input, so packing never widens the attention (its work
per token grows with the row width; 64-token rows slowed length-sorted batches 8-12%) and only
fills what padding would waste.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PackedBatch", "pack_batch", "plan_packed", "pool_packed"]

#: A pass may hold up to this fraction more than ``max_tokens`` when that takes every input left:
#: a tail of a few inputs would otherwise pay a pass's fixed cost on its own.
_TAIL = 0.25


def plan_packed(
    lengths: np.ndarray, batch_size: int, max_tokens: int | None
) -> list[list[list[int]]]:
    """Passes of rows of input indices, each row's inputs fitting in the pass's row width.

    Inputs are taken longest first. A pass's rows are as many tokens wide as its longest input, at most ``max_tokens // width`` of them (at least one), holding at most
    ``batch_size`` inputs in all. Each input goes into the first row with room for it (first fit
    decreasing); when the next longest input fits nowhere and no row may be opened, the gaps are
    filled with the shortest inputs left, and the next pass starts.

    >>> plan_packed(np.array([3, 9, 5, 1, 6]), batch_size=8, max_tokens=None)
    [[[1], [4, 0], [2, 3]]]
    >>> plan_packed(np.array([3, 9, 5, 1, 6]), batch_size=8, max_tokens=18)
    [[[1], [4, 3]], [[2], [0]]]
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable").tolist()
    size = lengths.tolist()
    passes: list[list[list[int]]] = []
    i, j = 0, len(order) - 1
    left = int(lengths.sum())  # tokens not yet placed
    while i <= j:
        width = max(size[order[i]], 1)
        limit = max_tokens
        if max_tokens is not None and left <= max_tokens * (1 + _TAIL):
            limit = int(max_tokens * (1 + _TAIL))  # a short tail joins rather than pays a pass
        max_rows = batch_size if limit is None else max(1, limit // width)
        rows: list[list[int]] = []
        room: list[int] = []
        count = 0
        while i <= j and count < batch_size:  # the longest, first fit
            if not _first_fit(rows, room, order[i], size[order[i]], width, max_rows):
                break
            i, count, left = i + 1, count + 1, left - size[order[i]]
        while i <= j and count < batch_size and size[order[j]] <= max(room):  # shortest in gaps
            _first_fit(rows, room, order[j], size[order[j]], width, 0)
            j, count, left = j - 1, count + 1, left - size[order[j]]
        passes.append(rows)
    return passes


def _first_fit(
    rows: list[list[int]], room: list[int], k: int, length: int, width: int, max_rows: int
) -> bool:
    """Put input ``k`` into the first row with ``length`` free tokens, else into a new row while
    there are fewer than ``max_rows``; whether it was placed."""
    for r, free in enumerate(room):
        if free >= length:
            rows[r].append(k)
            room[r] -= length
            return True
    if len(rows) < max_rows:
        rows.append([k])
        room.append(width - length)
        return True
    return False


@dataclass(frozen=True)
class PackedBatch:
    """One packed pass: its feed, and where each input's tokens are in the flattened output.

    ``inputs`` are the input indices in packed order; ``tokens`` indexes the pass's
    ``(rows · width)`` flattened positions, input after input, every real token once; ``starts``
    are the offsets of each input's first token in ``tokens`` (plus the total at the end).
    """

    feed: dict[str, np.ndarray]
    inputs: np.ndarray
    tokens: np.ndarray
    starts: np.ndarray


def pack_batch(
    rows: list[list[int]],
    ids: np.ndarray,
    types: np.ndarray | None,
    offsets: np.ndarray,
    pad_id: int,
) -> PackedBatch:
    """The packed feed of one pass (rows of input indices into the flat token arrays).

    ``input_ids``, ``segment_ids`` (1, 2, ... for the inputs of a row in order, 0 for padding),
    ``position_ids`` (0, 1, ... within each input) and, with ``types``, ``token_type_ids``; all
    int64 of shape ``(rows, width)``, where width is the fullest row's token count.

    >>> p = pack_batch([[1, 0]], np.array([5, 6, 7]), None, np.array([0, 1, 3]), 0)
    >>> p.feed["input_ids"].tolist(), p.feed["segment_ids"].tolist(), p.feed["position_ids"].tolist()
    ([[6, 7, 5]], [[1, 1, 2]], [[0, 1, 0]])
    """
    inputs = np.fromiter((k for row in rows for k in row), np.int64)
    per_row = np.array([len(row) for row in rows], dtype=np.int64)
    row_of = np.repeat(np.arange(len(rows)), per_row)
    lengths = offsets[inputs + 1] - offsets[inputs]
    before = np.cumsum(lengths) - lengths  # tokens before each input, over the whole pass
    first = np.cumsum(per_row) - per_row  # index (into inputs) of each row's first input
    start_in_row = before - before[first][row_of]
    fill = np.bincount(row_of, weights=lengths, minlength=len(rows)).astype(np.int64)
    width = int(fill.max())
    total = int(lengths.sum())
    within = np.arange(total) - np.repeat(before, lengths)  # position of each token in its input
    tokens = np.repeat(row_of * width + start_in_row, lengths) + within
    src = np.repeat(offsets[inputs], lengths) + within
    segment = np.arange(len(inputs)) - first[row_of] + 1  # 1-based index of the input in its row

    def grid(values: np.ndarray, fill_value: int) -> np.ndarray:
        out = np.full(len(rows) * width, fill_value, dtype=np.int64)
        out[tokens] = values
        return out.reshape(len(rows), width)

    feed = {
        "input_ids": grid(ids[src], pad_id),
        "segment_ids": grid(np.repeat(segment, lengths), 0),
        "position_ids": grid(within, 0),
    }
    if types is not None:
        feed["token_type_ids"] = grid(types[src], 0)
    starts = np.zeros(len(inputs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    return PackedBatch(feed, inputs, tokens, starts)


def pool_packed(h: np.ndarray, batch: PackedBatch, pooling: str, normalize: bool) -> np.ndarray:
    """Pool a packed pass's hidden states ``(rows, width, dim)`` into one vector per input.

    Rows come out in ``batch.inputs`` order; ``pooling`` is ``"mean"`` (the input's tokens),
    ``"cls"`` (its first token) or ``"tokens"`` (every token, input after input:
    ``(n_tokens, dim)``). ``normalize`` divides pooled vectors by their L2 norm (floored at 1e-12).
    """
    flat = h.reshape(-1, h.shape[-1])[batch.tokens]
    if pooling == "tokens":
        return np.asarray(flat, dtype=np.float32)
    counts = np.diff(batch.starts)
    real = counts > 0  # an empty input (no special tokens, no text) pools to zeros
    v = np.zeros((len(counts), flat.shape[1]), dtype=np.float32)
    if pooling == "cls":
        v[real] = flat[batch.starts[:-1][real]]
    else:  # reduceat needs strictly increasing starts inside the array: the non-empty inputs
        v[real] = np.add.reduceat(flat, batch.starts[:-1][real], axis=0, dtype=np.float32)
        v /= np.maximum(counts, 1)[:, None].astype(np.float32)
    if normalize:
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return v.astype(np.float32, copy=False)
