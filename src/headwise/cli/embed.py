"""`headwise embed`: embed a table's texts, or a folder/zip/npz of images or clips, into the cache.

Resumable; a second run is a cache hit.
"""

from __future__ import annotations

from ..exceptions import InputError
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
    RayAddressOpt,
    RayOpt,
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
    ray: RayOpt = False,
    ray_address: RayAddressOpt = None,
) -> None:
    """Embed every row (image, clip) of DATA with ENCODER and keep the vectors in the cache."""
    import time

    if ray or ray_address is not None:
        from ..distributed import embed_table

        if on_error != "fail":
            raise InputError("--on-error skip is not available with --ray; unreadable files fail the run.")
        if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
            raise InputError("--encoding is not available with --ray; Ray Data reads UTF-8 (convert the file first).")
        res = embed_table(data, encoder, backend="ray", address=ray_address, text_col=text_col,
                          encoder_options=encoder_options(layer, pooling, max_length, precision),
                          batch_size=batch_size, dtype=dtype)  # fmt: skip
        out = {"entry": res.embeddings.key, "encoder": res.encoder_name, "rows": res.rows,
               "dim": res.embeddings.dim, "dtype": dtype, "cache_hit": res.cache_hit,
               "seconds": res.seconds, "rows_per_second": res.rows_per_second, "backend": "ray"}  # fmt: skip
        return print_json(out) if as_json else print_table(f"embedded {data.name}", list(out), [list(out.values())])

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
