"""Distributed embedding: an encoder actor pool on Ray Data, vectors written by the driver's store.

Workers only encode. Their vectors stream back to the driver in row order and are handed to
:meth:`EmbeddingStore.get_or_compute` through a stand-in encoder that carries the real
encoder's ``key()``: the store writes them exactly as it writes vectors it computed itself, so a
rerun, or a single-machine run of the same rows with the same encoder, finds them. A worker that
dies has its batches retried by Ray (the actor is restarted, the task resubmitted); the store
only ever receives whole, checked shards, so nothing half-written lands in it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InputError
from ._delivery import VectorStream, WorkerVectors
from ._read import RaySource, from_inputs, read_image_folder, read_table, row_key
from ._session import actor_pool, cluster_gpus, ray_session, worker_errors

__all__ = ["EmbedResult", "EncoderActor", "embed_source", "embed_inputs", "embed_table"]

_BACKENDS = ("ray", "local")


@dataclass(frozen=True)
class EmbedResult:
    """What an embedding run produced and how long it took."""

    embeddings: Any  # headwise.store.EmbeddingSet of every row, in row order
    labels: np.ndarray | None  # one label per row when the data had them
    encoder_name: str
    rows: int
    cache_hit: bool  # every row was already in the store; nothing was encoded
    seconds: float
    backend: str  # "ray" or "local"

    @property
    def rows_per_second(self) -> float | None:
        return self.rows / self.seconds if self.seconds > 0 else None


class EncoderActor:
    """Ray Data UDF run by an actor pool: the encoder is built once per actor, then reused.

    ``payload`` is ``("spec", name, options)`` (the actor calls :func:`get_encoder`) or
    ``("object", encoder)`` for an encoder object shipped as it is.
    """

    def __init__(self, payload: tuple[Any, ...], batch_size: int) -> None:
        if payload[0] == "spec":
            from ..encoders import get_encoder

            self.encoder = get_encoder(payload[1], **payload[2])
        else:
            self.encoder = payload[1]
        self.batch_size = int(batch_size)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if "bytes" in batch:
            from ..media import ImageItem

            items: list[Any] = [
                ImageItem(source=str(p), data=bytes(b))
                for b, p in zip(batch["bytes"], batch["path"], strict=True)
            ]
        else:
            items = list(batch["item"])
        vectors = self.encoder.encode(items, batch_size=self.batch_size, progress=False)
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(items):
            raise InputError(
                f"Encoder {self.encoder.name!r} returned shape {vectors.shape} for {len(items)} "
                "inputs; expected one vector per input."
            )
        return {"key": np.asarray([row_key(t) for t in items]), "vector": vectors}


def _payload(encoder: Any, options: dict[str, Any] | None) -> tuple[tuple[Any, ...], Any]:
    from ..encoders import get_encoder

    if isinstance(encoder, str):
        opts = {k: v for k, v in (options or {}).items() if v is not None}
        return ("spec", encoder, opts), get_encoder(encoder, **opts)
    if options:
        raise InputError("encoder_options apply to an encoder name, not to an encoder object.")
    return ("object", encoder), encoder


def embed_source(
    source: RaySource,
    encoder: Any,
    *,
    encoder_options: dict[str, Any] | None = None,
    store: Any = None,
    batch_size: int = 64,
    dtype: str = "float32",
    concurrency: int | tuple[int, int] | None = None,
    num_gpus: float | None = None,
    rows_per_task: int = 1024,
    name: str | None = None,
) -> EmbedResult:
    """Embed the rows of ``source`` on the running Ray and store the vectors (driver writes).

    ``name`` labels the dataset in ``headwise cache list``. ``concurrency`` encoder actors run (default: up to one per cluster CPU, autoscaled from 1);
    each asks for ``num_gpus`` GPUs (default: 1 where the cluster has GPUs, else 0). Each Ray
    task encodes ``rows_per_task`` rows in forward passes of ``batch_size``.
    """
    from ..store import EmbeddingStore

    t0 = time.perf_counter()
    payload, enc = _payload(encoder, encoder_options)
    if getattr(enc, "pooling", "mean") == "tokens":
        raise InputError(
            "pooling 'tokens' keeps a variable number of vectors per row; the Ray backend stores "
            "one vector per row. Use --pooling mean or cls, or embed token vectors on one machine."
        )
    store = EmbeddingStore(store) if store is None or isinstance(store, str | Path) else store
    hit = store.lookup(enc, source.inputs, dtype=dtype)
    if hit is not None:
        return EmbedResult(hit, source.labels, enc.name, len(hit), True,
                           time.perf_counter() - t0, "ray")  # fmt: skip
    gpus = (1.0 if cluster_gpus() >= 1 else 0.0) if num_gpus is None else float(num_gpus)
    encoded = source.dataset.map_batches(
        EncoderActor,
        fn_constructor_args=(payload, batch_size),
        batch_size=int(rows_per_task),
        batch_format="numpy",
        compute=actor_pool(concurrency),
        num_cpus=0 if gpus > 0 else 1,
        num_gpus=gpus,
        # Ray Data's actor pools default to max_restarts=-1 and max_task_retries=-1: a dead
        # actor is replaced and its batches are resubmitted (tests/distributed checks it).
    )
    stream = VectorStream(iter(encoded.iter_batches(batch_size=None, batch_format="numpy")))
    with worker_errors():
        es = store.get_or_compute(
            WorkerVectors(enc, stream), source.inputs, batch_size=batch_size, dtype=dtype,
            progress=False, name=name,
        )  # fmt: skip
    return EmbedResult(es, source.labels, enc.name, len(es), False,
                       time.perf_counter() - t0, "ray")  # fmt: skip


def embed_inputs(
    inputs: list[Any], encoder: Any, *, labels: Any = None, address: str | None = None,
    **kwargs: Any,
) -> EmbedResult:  # fmt: skip
    """Embed texts or media items held in this process on Ray (local or at ``address``).

    Keyword arguments are those of :func:`embed_source`.
    """
    with ray_session(address), worker_errors():
        return embed_source(from_inputs(inputs, labels), encoder, **kwargs)


def embed_table(
    data: str | Path,
    encoder: Any = "minilm",
    *,
    backend: str = "ray",
    text_col: str | None = None,
    label_col: str | None = None,
    encoder_options: dict[str, Any] | None = None,
    store: Any = None,
    batch_size: int = 64,
    dtype: str = "float32",
    address: str | None = None,
    concurrency: int | tuple[int, int] | None = None,
    num_gpus: float | None = None,
) -> EmbedResult:
    """Embed every row of a table or image folder into the store, on Ray or on this machine.

    Parameters
    ----------
    data : str or Path
        Parquet, CSV/TSV or JSON-lines table (optionally .gz), or an ImageFolder-style folder.
        With ``backend="ray"`` any URI Ray Data reads (``s3://...``) works for tables.
    encoder : str or Encoder
        Encoder name (built on every worker) or an encoder object (shipped to them).
    backend : {"ray", "local"}
        ``"ray"``: read with Ray Data and encode on an actor pool (local Ray unless
        ``address``); ``"local"``: this process, as ``headwise embed`` without ``--ray``.
        Both write the same store rows.
    address, concurrency, num_gpus
        Ray cluster address; encoder actors; GPUs per actor (see :func:`embed_source`).

    Returns
    -------
    EmbedResult
    """
    if backend not in _BACKENDS:
        raise InputError(f"backend must be one of {', '.join(_BACKENDS)}. Got {backend!r} instead.")
    path = Path(str(data)).expanduser()
    if backend == "local":
        return _embed_local(path, encoder, text_col, label_col, encoder_options, store,
                            batch_size, dtype)  # fmt: skip
    local_dir = "://" not in str(data) and path.is_dir()
    if local_dir and isinstance(encoder, str):
        from ..encoders import encoder_modality

        if encoder_modality(encoder) != "image":
            raise InputError(
                f"{path} is a folder; {encoder!r} embeds text, so give a table (Parquet, CSV, "
                "JSON lines), or an image encoder for a folder of images."
            )
    with ray_session(address), worker_errors():
        if local_dir:
            source = read_image_folder(path)
        elif "://" not in str(data) and path.suffix.lower() in (".zip", ".npz", ".npy"):
            from ..media import load_media

            table = load_media(path, "image")  # small archives: read here, items shipped
            source = from_inputs(table.texts, table.labels)
        else:
            source = read_table(str(data), text_col=text_col, label_col=label_col,
                                with_labels=label_col is not None)  # fmt: skip
        return embed_source(
            source, encoder, encoder_options=encoder_options, store=store,
            batch_size=batch_size, dtype=dtype, concurrency=concurrency, num_gpus=num_gpus,
            name=path.name,
        )  # fmt: skip


def _embed_local(path: Path, encoder: Any, text_col: str | None, label_col: str | None,
                 options: dict[str, Any] | None, store: Any, batch_size: int,
                 dtype: str) -> EmbedResult:  # fmt: skip
    from ..datasets import load_table
    from ..media import load_media
    from ..store import EmbeddingStore

    t0 = time.perf_counter()
    _, enc = _payload(encoder, options)
    if path.is_dir() or path.suffix.lower() in (".zip", ".npz", ".npy"):
        table: Any = load_media(path, "image")
    else:
        table = load_table(path, text_col=text_col, label_col=label_col,
                           require_labels=label_col is not None)  # fmt: skip
    store = EmbeddingStore(store) if store is None or isinstance(store, str | Path) else store
    hit = store.lookup(enc, table.texts, dtype=dtype)
    if hit is None:
        es = store.get_or_compute(enc, table.texts, batch_size=batch_size, dtype=dtype,
                                  progress=False, name=path.name)  # fmt: skip
    else:
        es = hit
    return EmbedResult(es, table.labels, enc.name, len(es), hit is not None,
                       time.perf_counter() - t0, "local")  # fmt: skip
