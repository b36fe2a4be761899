"""Backend-independent batching and pooling for :class:`~headwise.encoders.HFEncoder`.

Inputs are tokenised once into flat id arrays with offsets; batches are planned longest first so
each batch is padded only to its own longest input; hidden states come back from any backend as
numpy arrays and are pooled here, so the torch and ONNX Runtime backends share one pooling path.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pad_batch", "plan_batches", "pool"]


def plan_batches(
    lengths: np.ndarray, batch_size: int, max_tokens: int | None = None
) -> list[np.ndarray]:
    """Row indices of each batch: longest inputs first, at most ``batch_size`` rows per batch.

    With ``max_tokens``, a batch also holds at most ``max_tokens`` padded tokens (rows times its
    longest input), though always at least one row: long inputs go in smaller batches.

    >>> [b.tolist() for b in plan_batches(np.array([3, 9, 5, 1]), 2)]
    [[1, 2], [0, 3]]
    >>> [b.tolist() for b in plan_batches(np.array([3, 9, 5, 1]), 4, max_tokens=10)]
    [[1], [2, 0], [3]]
    """
    lengths = np.asarray(lengths)
    order = np.argsort(-lengths, kind="stable")
    if max_tokens is None:
        return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    batches, start = [], 0
    while start < len(order):
        width = max(int(lengths[order[start]]), 1)  # the longest row of the batch comes first
        rows = min(batch_size, max(1, max_tokens // width))
        batches.append(order[start : start + rows])
        start += rows
    return batches


def pad_batch(
    idx: np.ndarray,
    ids: np.ndarray,
    types: np.ndarray | None,
    offsets: np.ndarray,
    pad_id: int,
) -> dict[str, np.ndarray]:
    """Right-pad the rows ``idx`` of the flat token arrays to the longest of them.

    Returns int64 ``input_ids`` and ``attention_mask`` (and ``token_type_ids`` when ``types`` is
    given), each of shape ``(len(idx), width)``.

    >>> feed = pad_batch(np.array([1, 0]), np.array([5, 6, 7]), None, np.array([0, 1, 3]), 0)
    >>> feed["input_ids"].tolist(), feed["attention_mask"].tolist()
    ([[6, 7], [5, 0]], [[1, 1], [1, 0]])
    """
    starts, stops = offsets[idx], offsets[idx + 1]
    lengths = stops - starts
    width = int(lengths.max())
    mask = np.arange(width)[None, :] < lengths[:, None]
    # Source position of every real token, row by row: one vectorised gather instead of a loop.
    src = np.repeat(starts, lengths) + (
        np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    )
    input_ids = np.full((len(idx), width), pad_id, dtype=np.int64)
    input_ids[mask] = ids[src]
    feed = {"input_ids": input_ids, "attention_mask": mask.astype(np.int64)}
    if types is not None:
        token_types = np.zeros((len(idx), width), dtype=np.int64)
        token_types[mask] = types[src]
        feed["token_type_ids"] = token_types
    return feed


def pool(h: np.ndarray, mask: np.ndarray, pooling: str, normalize: bool) -> np.ndarray:
    """Pool hidden states ``h`` of shape (batch, width, dim) into (batch, dim) float32 vectors.

    ``"mean"`` averages the real tokens (``mask == 1``), ``"cls"`` takes the first token;
    ``normalize`` divides by the L2 norm (floored at 1e-12, like ``torch.nn.functional.normalize``).

    >>> h = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    >>> pool(h, np.array([[1, 1, 0]]), "mean", False).tolist()
    [[2.0, 3.0, 4.0, 5.0]]
    """
    if pooling == "cls":
        v = np.array(h[:, 0], dtype=np.float32)
    else:
        m = mask.astype(np.float32)
        # (batch, 1, width) @ (batch, width, dim): a batched GEMM, faster than (h * m).sum(1).
        v = np.matmul(m[:, None, :], h)[:, 0] / np.maximum(m.sum(axis=1, keepdims=True), 1e-9)
    if normalize:
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return v.astype(np.float32, copy=False)
