"""`headwise embed`: embed a table's texts, or a folder/zip/npz of images or clips, into the cache.

Resumable; a second run is a cache hit.
"""

from __future__ import annotations

from ._common import (
    BatchOpt,
    DataArg,
    DtypeOpt,
    EncoderOpt,
    EncodingOpt,
    JsonOpt,
    LayerOpt,
    MaxLenOpt,
    OnErrorOpt,
    PoolingOpt,
    PrecisionOpt,
    TextColOpt,
    check_batch_size,
    encoder_options,
    handle_errors,
    load_data,
    media_report,
    print_json,
    print_table,
)


@handle_errors
def embed(
    data: DataArg,
    encoder: EncoderOpt = "minilm",
    text_col: TextColOpt = None,
    layer: LayerOpt = None,
    pooling: PoolingOpt = None,
    max_length: MaxLenOpt = None,
    precision: PrecisionOpt = None,
    batch_size: BatchOpt = 64,
    dtype: DtypeOpt = "float32",
    on_error: OnErrorOpt = "fail",
    as_json: JsonOpt = False,
    encoding: EncodingOpt = "utf-8",
) -> None:
    """Embed every row (image, clip) of DATA with ENCODER and keep the vectors in the cache."""
    import time

    from ..encoders import get_encoder
    from ..store import EmbeddingStore

    table = load_data(
        data, encoder, text_col=text_col, require_labels=False, on_error=on_error, quiet=as_json,
        encoding=encoding,
    )
    check_batch_size(batch_size)
    t0 = time.perf_counter()
    enc = get_encoder(encoder, **encoder_options(layer, pooling, max_length, precision))
    store = EmbeddingStore()
    hit = store.lookup(enc, table.texts, dtype=dtype)
    es = hit if hit is not None else store.get_or_compute(
        enc, table.texts, batch_size=batch_size, dtype=dtype, name=table.path.name
    )
    seconds = time.perf_counter() - t0
    result = {
        "entry": es.key,
        "encoder": enc.name,
        "rows": len(es),
        "dim": es.dim,
        "dtype": dtype,
        "cache_hit": hit is not None,
        "seconds": seconds,
        "rows_per_second": len(es) / seconds if seconds > 0 else None,
    }
    report = media_report(table)
    if as_json:
        print_json({**result, **report})
    else:
        if report:
            result.update(skipped=report["skipped"], ignored=report["ignored"])
        print_table(f"embedded {table.path.name}", list(result), [list(result.values())])
