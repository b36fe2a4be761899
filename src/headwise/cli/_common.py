"""Shared CLI pieces: error mapping, output, loading data and embedding it through the cache."""

from __future__ import annotations

import functools
import json
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from ..config import debug_enabled
from ..exceptions import HeadwiseError, InputError

F = TypeVar("F", bound=Callable[..., Any])

console = Console()
err_console = Console(stderr=True)

# ---------------------------------------------------------------- shared options
DataArg = Annotated[
    Path,
    typer.Argument(
        readable=False,  # the reader says what is wrong (permission, folder) in one line, exit 1
        help="CSV, TSV, JSONL (optionally .gz) or Parquet file; for image/audio encoders a folder "
        "of class subfolders, a .zip of one, or .npz/.npy arrays."
    ),
]
EncoderOpt = Annotated[
    str,
    typer.Option(
        "--encoder", "-e",
        help="Encoder id: minilm, hash, hf:<local model dir>, mobilenetv2, efficientnet-lite0, "
        "whisper-base; `headwise encoders list` shows all.",
    ),
]
TextColOpt = Annotated[str | None, typer.Option("--text-col", help="Text column (default: text).")]
LabelColOpt = Annotated[
    str | None, typer.Option("--label-col", help="Label column (default: label_text, else label).")
]
SplitColOpt = Annotated[str | None, typer.Option("--split-col", help="Split column (default: split).")]
LayerOpt = Annotated[
    int | None, typer.Option("--layer", help="Hidden layer to read (default: last; 0 = embeddings).")
]
PoolingOpt = Annotated[
    str | None,
    typer.Option("--pooling", help="Text: mean, cls or tokens; image: mean, max or tokens; audio: meanstd, mean or tokens."),
]
OnErrorOpt = Annotated[
    str,
    typer.Option(
        "--on-error",
        help="Image/audio files that cannot be decoded: fail (default) or skip (counted and listed).",
    ),
]
MaxLenOpt = Annotated[int | None, typer.Option("--max-length", help="Truncate inputs to N tokens.")]
PrecisionOpt = Annotated[
    str | None,
    typer.Option(
        "--precision",
        help="Text encoders: fp32 or int8 (per-channel int8 ONNX on the CPU: faster, vectors "
        "differ slightly; cached apart from fp32). Default: fp32 (see the README).",
    ),
]
BatchOpt = Annotated[int, typer.Option("--batch-size", help="Inputs per forward pass.")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help="Cache storage: float32 or float16.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")]
DropUnlabeledOpt = Annotated[
    bool,
    typer.Option("--drop-unlabeled", help="Leave out rows without a label (counted) instead of refusing the file."),
]
EncodingOpt = Annotated[str, typer.Option("--encoding", help="Text encoding of CSV/TSV/JSONL data (default utf-8).")]
RayOpt = Annotated[
    bool, typer.Option("--ray", help="Run on Ray: a local Ray, or the cluster at --ray-address.")
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option("--ray-address", help="Join the Ray cluster at HOST:PORT (implies --ray)."),
]


def handle_errors(fn: F) -> F:
    """Turn known errors into one line on stderr and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HeadwiseError as exc:
            if debug_enabled():
                traceback.print_exc()
            msg = str(exc).replace("\n", " ")
            # escape: rich would swallow "[plot]" in "pip install headwise[plot]" as markup
            err_console.print(f"[bold red]error:[/] {escape(msg)}", highlight=False, soft_wrap=True)
            err_console.print("(set HEADWISE_DEBUG=1 for a traceback)", style="dim")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def print_json(obj: Any) -> None:
    """Print ``obj`` as strict JSON: NaN and infinities (not JSON) become ``null``."""
    text = json.dumps(_strict(obj), indent=2, default=_json_default, allow_nan=False)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _strict(o: Any) -> Any:
    if isinstance(o, float | np.floating):
        return float(o) if np.isfinite(o) else None
    if isinstance(o, np.ndarray):
        return _strict(o.tolist())
    if isinstance(o, dict):
        return {k: _strict(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_strict(v) for v in o]
    return o


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, datetime):
        return o.isoformat()
    raise TypeError(type(o))


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    t = RichTable(title=title, title_justify="left")
    for c in columns:
        t.add_column(c, justify="left" if c in ("head", "label", "text", "entry", "encoder") else "right")
    for r in rows:
        t.add_row(*[_fmt(v) for v in r])
    console.print(t)


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def load_data(
    data: Path,
    encoder: str,
    *,
    text_col: str | None = None,
    label_col: str | None = None,
    split_col: str | None = None,
    require_labels: bool = True,
    on_error: str = "fail",
    quiet: bool = False,
    drop_unlabeled: bool = False,
    encoding: str = "utf-8",
    multilabel: bool = False,
) -> Any:
    """A table of texts, or of images/clips when ``encoder`` takes media (its ``info`` says so).

    A table with a list of labels per row is refused unless ``multilabel`` (the command handles
    multi-label data). Files left out under ``--on-error skip`` are counted and listed on stderr (unless ``quiet``;
    JSON output carries them instead), never dropped silently.
    """
    from ..datasets import load_table
    from ..encoders import encoder_modality

    modality = encoder_modality(encoder)
    if modality == "text":
        if on_error != "fail":
            check_on_error_value(on_error)
        table = load_table(
            data, text_col=text_col, label_col=label_col, split_col=split_col,
            require_labels=require_labels, drop_unlabeled=drop_unlabeled, encoding=encoding,
        )  # fmt: skip
        if table.n_dropped and not quiet:
            err_console.print(f"[yellow]{table.n_dropped} row(s) without a label left out.[/]",
                              highlight=False)
        if not multilabel:
            table.require_single_label()
        return table
    from ..media import load_media

    table = load_media(data, modality, on_error=on_error)
    if require_labels and table.labels is None:
        raise InputError(
            f"{data} has no labels: put the files in one folder per class (<class>/<file>), "
            "or give an .npz with labels."
        )
    if not quiet:
        for what, rows in (("skipped (unreadable)", table.skipped), ("ignored (not media)", table.ignored)):
            if rows:
                err_console.print(f"[yellow]{len(rows)} file(s) {what}:[/]", highlight=False)
                for r in rows[:20]:
                    err_console.print(f"  {r.source}: {r.reason}", highlight=False, soft_wrap=True)
                if len(rows) > 20:
                    err_console.print(f"  ... and {len(rows) - 20} more", highlight=False)
    return table


def check_on_error_value(on_error: str) -> None:
    from ..media._common import check_on_error

    check_on_error(on_error)


def media_report(table: Any) -> dict[str, Any]:
    """``skipped``/``ignored`` counts and file lists for JSON output; empty for text tables."""
    if not hasattr(table, "skipped"):
        return {}
    return {
        "skipped": len(table.skipped),
        "skipped_files": [{"file": s.source, "reason": s.reason} for s in table.skipped],
        "ignored": len(table.ignored),
        "ignored_files": [s.source for s in table.ignored],
    }


def encoder_options(
    layer: int | None, pooling: str | None, max_length: int | None, precision: str | None = None
) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if precision is not None:
        opts["precision"] = precision
    if layer is not None:
        opts["layer"] = layer
    if pooling is not None:
        opts["pooling"] = pooling
    if max_length is not None:
        opts["max_length"] = max_length
    return opts


@dataclass
class Embedded:
    X: np.ndarray  # (n, dim) float32 embeddings of every row of the table
    encoder_key: dict[str, Any]
    encoder_spec: dict[str, Any]  # how to rebuild the encoder: {"spec": ..., "options": {...}}
    entry: str  # cache entry id
    cached: bool  # True when served from the cache
    seconds: float


def embed_texts(
    texts: list[str],
    spec: str,
    options: dict[str, Any],
    *,
    batch_size: int = 64,
    dtype: str = "float32",
    progress: bool | None = None,
) -> Embedded:
    import time

    from ..encoders import get_encoder
    from ..store import EmbeddingStore

    check_batch_size(batch_size)
    encoder = get_encoder(spec, **options)
    if getattr(encoder, "pooling", "mean") == "tokens":
        raise InputError(
            "pooling 'tokens' keeps per-token vectors, which these heads cannot take; "
            "use --pooling mean or cls (token-level probes read `headwise embed --pooling tokens`)."
        )
    store = EmbeddingStore()
    t0 = time.perf_counter()
    hit = store.lookup(encoder, texts, dtype=dtype)
    es = hit if hit is not None else store.get_or_compute(
        encoder, texts, batch_size=batch_size, dtype=dtype, progress=progress
    )
    X = es.to_numpy()
    return Embedded(
        X=X,
        encoder_key=encoder.key(),
        encoder_spec={"spec": spec, "options": options},
        entry=es.key,
        cached=hit is not None,
        seconds=time.perf_counter() - t0,
    )


def check_batch_size(batch_size: int) -> None:
    """Refuse --batch-size < 1 up front (a cache hit would otherwise never look at it)."""
    if batch_size < 1:
        raise InputError(f"--batch-size must be at least 1 (batch_size). Got {batch_size} instead.")


def indices_for(table: Any, split: str | None) -> np.ndarray:
    """Rows of ``split``; all rows when the split is None."""
    if split is None:
        return np.arange(len(table))
    idx = table.split_indices(split)
    if idx.size == 0:
        raise InputError(
            f"Split '{split}' has no rows in {table.path.name}; splits present: "
            f"{', '.join(table.available_splits()) or 'none'}."
        )
    return idx
