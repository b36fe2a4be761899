"""`headwise embed`: embed a table's texts, or a folder/zip/npz of images or clips, into the cache.

Resumable; a second run is a cache hit.
"""

from __future__ import annotations

from ..exceptions import InputError
from ..workflows import embed_table, load_inputs, media_report
from ._options import (
    DEFAULT_ENCODER,
    ENCODE,
    BatchOpt,
    DataArg,
    DataOptions,
    DtypeOpt,
    EncoderOpt,
    JsonOpt,
    RayAddressOpt,
    RayOpt,
    data_options,
)
from ._render import media_notes, print_json, print_record


@data_options("text_col", "on_error", "encoding", *ENCODE)
def embed(
    data: DataArg,
    encoder: EncoderOpt = DEFAULT_ENCODER,
    batch_size: BatchOpt = 64,
    dtype: DtypeOpt = "float32",
    as_json: JsonOpt = False,
    ray: RayOpt = False,
    ray_address: RayAddressOpt = None,
    *,
    opts: DataOptions,
) -> None:
    """Embed every row (image, clip) of DATA with ENCODER and keep the vectors in the cache."""
    if ray or ray_address is not None:  # the same job on Ray (headwise.distributed)
        from ..distributed import embed_table as embed_on_ray

        if opts.on_error != "fail":
            raise InputError("--on-error skip is not available with --ray; unreadable files fail the run.")
        if opts.encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
            raise InputError("--encoding is not available with --ray; Ray Data reads UTF-8 (convert the file first).")
        res = embed_on_ray(data, encoder, backend="ray", address=ray_address, text_col=opts.text_col,
                           encoder_options=opts.encoder(),
                           batch_size=batch_size, dtype=dtype)  # fmt: skip
        out = {"entry": res.embeddings.key, "encoder": res.encoder_name, "rows": res.rows,
               "dim": res.embeddings.dim, "dtype": dtype, "cache_hit": res.cache_hit,
               "seconds": res.seconds, "rows_per_second": res.rows_per_second, "backend": "ray"}  # fmt: skip
        if as_json:
            print_json(out)
        else:
            print_record(f"embedded {data.name} on Ray", out, kinds={"rows_per_second": "plain"})
        return
    table = load_inputs(data, encoder, **opts.reader(), require_labels=False)
    emb = embed_table(
        table, encoder, opts.encoder(), batch_size=batch_size,
        dtype=dtype, allow_tokens=True,
    )  # fmt: skip
    result = emb.to_dict()
    report = media_report(table)
    if as_json:
        print_json({**result, **report})
        return
    media_notes(table)
    shown = {"entry": result["entry"], "encoder": result["encoder"], "rows": result["rows"],
             "dim": result["dim"], "dtype": result["dtype"],
             "cache hit": result["cache_hit"], "time": result["seconds"],
             "rows per second": result["rows_per_second"]}  # fmt: skip
    if report:
        shown.update(skipped=report["skipped"], ignored=report["ignored"])
    print_record(f"embedded {table.path.name}", shown, kinds={"rows per second": "plain"})
