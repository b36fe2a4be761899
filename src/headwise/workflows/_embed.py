"""Embed a table through the cache: the first step of every workflow."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from ..datasets import Table
from ..exceptions import InputError

__all__ = ["Embedded", "StoreBackedEncoder", "embed_table", "embed_texts", "resolve_encoder_params",
           "zero_shot_prior", "NAMED_HEADS"]


@dataclass(frozen=True)
class Embedded:
    """Embeddings of every row of a table, and where they came from."""

    embeddings: Any = field(repr=False)  # the cache entry (an EmbeddingSet), read lazily
    encoder_key: dict[str, Any]  # the encoder's cache key (name, revision, options)
    encoder_spec: dict[str, Any]  # how to rebuild the encoder: {"spec": ..., "options": {...}}
    entry: str  # cache entry id
    cached: bool  # True when served from the cache
    seconds: float  # wall time, embedding or cache read
    dtype: str = "float32"  # storage dtype of the cache entry
    encoder: Any = field(default=None, repr=False, compare=False)  # the encoder object itself

    @cached_property
    def X(self) -> np.ndarray:
        """``(n, dim)`` float32 embeddings of every row (read from the cache on first use)."""
        return self.embeddings.to_numpy()

    def to_dict(self) -> dict[str, Any]:
        """What a run reports about its embeddings (no arrays)."""
        rows = len(self.embeddings)
        return {
            "entry": self.entry,
            "encoder": self.encoder_key.get("name", self.encoder_spec.get("spec")),
            "rows": int(rows),
            "dim": int(self.embeddings.dim),
            "dtype": self.dtype,
            "cache_hit": self.cached,
            "seconds": self.seconds,
            "rows_per_second": rows / self.seconds if self.seconds > 0 else None,
        }


def embed_texts(
    texts: Sequence[Any],
    spec: str,
    options: dict[str, Any] | None = None,
    *,
    batch_size: int = 64,
    dtype: str = "float32",
    progress: bool | None = None,
    allow_tokens: bool = False,
    name: str | None = None,
) -> Embedded:
    """Embed ``texts`` (or media items) with encoder ``spec`` through the embedding cache.

    A second call with the same encoder and inputs is a cache hit. Per-token pooling is refused
    unless ``allow_tokens``: the heads take one vector per row. ``name`` (the dataset's) is what
    ``headwise cache list`` shows for these rows.
    """
    from .._validation import check_int_range
    from ..encoders import MAX_BATCH

    # checked here too: a cache hit never looks at it
    check_int_range(batch_size, "--batch-size", 1, MAX_BATCH,
                    "(inputs per forward pass; larger batches only cost memory)")
    from ..encoders import get_encoder
    from ..store import EmbeddingStore

    options = dict(options or {})
    encoder = get_encoder(spec, **options)
    if not allow_tokens and getattr(encoder, "pooling", "mean") == "tokens":
        raise InputError(
            "pooling 'tokens' keeps per-token vectors, which these heads cannot take; "
            "use --pooling mean or cls (token-level probes read `headwise embed --pooling tokens`)."
        )
    store = EmbeddingStore()
    t0 = time.perf_counter()
    hit = store.lookup(encoder, texts, dtype=dtype)
    es = hit if hit is not None else store.get_or_compute(
        encoder, texts, batch_size=batch_size, dtype=dtype, progress=progress, name=name
    )
    return Embedded(
        embeddings=es,
        encoder_key=encoder.key(),
        encoder_spec={"spec": spec, "options": options},
        entry=es.key,
        cached=hit is not None,
        seconds=time.perf_counter() - t0,
        dtype=dtype,
        encoder=encoder,
    )


def embed_table(table: Table, encoder: str, options: dict[str, Any] | None = None, **settings: Any) -> Embedded:
    """Embed every row of ``table`` with ``encoder`` through the cache.

    ``settings`` are those of :func:`embed_texts` (``batch_size``, ``dtype``, ``progress``,
    ``allow_tokens``).

    >>> import json, tempfile, pathlib
    >>> from headwise.datasets import load_table
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.jsonl"
    >>> _ = p.write_text("".join(json.dumps({"text": t, "label": "x"}) + "\\n" for t in "abc"))
    >>> embed_table(load_table(p), "hash", progress=False).X.shape[0]
    3
    """
    settings.setdefault("name", table.path.name)
    return embed_texts(table.texts, encoder, options, **settings)


class StoreBackedEncoder:
    """An encoder whose ``encode`` goes through the embedding cache (for class prompts).

    Zero-shot heads embed the same class prompts at every refit (one per few-shot seed); through
    this wrapper those embeddings are computed once and then read back from the store, which is
    bounded by what ``headwise cache`` manages rather than by a module-level dict.
    """

    def __init__(self, encoder: Any, store: Any = None) -> None:
        self.encoder = encoder
        self.name = encoder.name
        self.dim = encoder.dim
        self._store = store

    def key(self) -> dict[str, Any]:
        return dict(self.encoder.key())

    def encode(self, inputs: Sequence[Any], *, batch_size: int = 32, **_: Any) -> np.ndarray:
        from ..store import EmbeddingStore

        store = self._store if self._store is not None else EmbeddingStore()
        return store.get_or_compute(self.encoder, list(inputs), batch_size=batch_size, progress=False).to_numpy()

    def __repr__(self) -> str:  # run records show parameters by repr
        return f"StoreBackedEncoder({self.name!r})"

    def __deepcopy__(self, memo: dict[int, Any]) -> StoreBackedEncoder:
        return self  # stateless apart from the store: clones of a head share it, never copy a model

    def __getattr__(self, name: str) -> Any:  # encode_text, pooling, ... of the wrapped encoder
        if name == "encoder":
            raise AttributeError(name)
        return getattr(self.encoder, name)


NAMED_HEADS = ("auto", "zeroshot", "blend")  # heads that read the class names through an encoder


def zero_shot_prior(head: str, encoder: str, emb: Embedded,
                    params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The parameters that give a head that reads the class names (``NAMED_HEADS``) the encoder
    that made the rows: ``auto``'s zero-shot candidate, ``zeroshot``'s class prompts, ``blend``'s
    prior. For text encoders, unless the parameters name an encoder (``--param encoder=null``
    turns it off); ``{}`` otherwise."""
    from ..encoders import encoder_modality

    if head not in NAMED_HEADS or "encoder" in (params or {}) or encoder_modality(encoder) != "text":
        return {}
    return {"encoder": StoreBackedEncoder(emb.encoder)}


def resolve_encoder_params(params: dict[str, Any]) -> dict[str, Any]:
    """Turn an encoder *name* among head parameters into a store-backed encoder object.

    Heads never load encoders; a zero-shot head fitted from the CLI (``--param encoder=minilm``)
    gets its encoder here, on the workflow floor.
    """
    enc = params.get("encoder")
    if not isinstance(enc, str):
        return params
    from ..encoders import get_encoder

    return {**params, "encoder": StoreBackedEncoder(get_encoder(enc))}
