"""The :class:`Encoder` protocol (the ragged :class:`TokenEmbeddings` lives in ``headwise.tokens``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..exceptions import InputError
from ..tokens import TokenEmbeddings

__all__ = ["Encoder", "LayeredEncoder", "SiteEncoder", "TokenEmbeddings", "POOLINGS", "is_layered"]

#: Pooling modes an encoder may report: one vector per input ("mean", "cls") or per token.
POOLINGS: tuple[str, ...] = ("mean", "cls", "tokens")


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns a sequence of inputs into embeddings.

    ``name`` is a stable id (``"minilm"``, ``"hash"``, ``"hf:/abs/dir"``); ``key()`` returns a JSON-able
    dict of everything that determines the output (id, weights revision, layer, pooling, max_length,
    truncation, normalisation, format version) and is part of every cache key.

    ``encode`` returns an ``(n, dim)`` float32 C-contiguous array, or :class:`TokenEmbeddings` when
    ``pooling == "tokens"``; empty or missing inputs raise :class:`~headwise.exceptions.InputError`.
    """

    name: str
    dim: int
    pooling: str

    def key(self) -> dict[str, Any]: ...

    def encode(
        self, inputs: Sequence[str], *, batch_size: int = 32, progress: bool | None = None
    ) -> np.ndarray | TokenEmbeddings: ...


@runtime_checkable
class LayeredEncoder(Protocol):
    """An encoder whose hidden layers can be read one by one: the sites of a layer sweep.

    ``n_layers`` hidden states after the embeddings (site ``0`` is the embedding output);
    ``encode_layers`` returns ``{layer: (n, dim) array}`` for several layers from one forward
    pass; ``key_for_layer`` is the cache key of one layer's vectors, exactly what the encoder
    built with ``layer=l`` would report.
    """

    name: str
    dim: int
    n_layers: int

    def key(self) -> dict[str, Any]: ...

    def key_for_layer(self, layer: int) -> dict[str, Any]: ...

    def encode_layers(
        self, inputs: Sequence[str], layers: Sequence[int], *, batch_size: int = 32
    ) -> dict[int, np.ndarray]: ...


@runtime_checkable
class SiteEncoder(Protocol):
    """A layered encoder with finer sites (attention-head outputs) read through ``encode_targets``."""

    name: str
    n_layers: int

    def encode_targets(self, inputs: Sequence[str], targets: Sequence[Any], *, batch_size: int = 32,
                       progress: bool | None = None) -> Any: ...  # fmt: skip


def is_layered(encoder: Any) -> str | None:
    """``"sites"`` (layers and attention heads), ``"layers"``, or None when nothing can be swept.

    >>> from headwise.encoders import HashEncoder
    >>> is_layered(HashEncoder()) is None
    True
    """
    if callable(getattr(encoder, "encode_targets", None)):
        return "sites"
    if callable(getattr(encoder, "encode_layers", None)) and callable(getattr(encoder, "key_for_layer", None)):
        return "layers"
    return None


MAX_BATCH = 4096  # inputs per forward pass: throughput has long saturated, memory has not


def check_batch_size(batch_size: Any) -> int:
    """Refuse anything but a positive integer batch size of at most :data:`MAX_BATCH`: one
    forward pass holds activations for the whole batch (MiniLM's attention alone is ~3 MB per
    256-token text), so ``--batch-size 1000000`` ran the machine out of memory instead of
    running faster."""
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int | np.integer)
        or batch_size < 1
    ):
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if batch_size > MAX_BATCH:
        raise InputError(
            f"batch_size {batch_size} is above {MAX_BATCH}: one forward pass holds every input's "
            "activations at once, and larger batches stop being faster long before. Use at most "
            f"{MAX_BATCH} (64-256 is typical)."
        )
    return int(batch_size)
