"""Reading tables and image folders with Ray Data, row for row as the single-machine readers do.

Each reader returns a :class:`RaySource`: a Ray Dataset whose rows are the inputs to embed (an
``item`` column of texts, or ``bytes``/``path`` columns of image files), the inputs' cache keys
as the driver hands them to the embedding store, and the labels when the data has them. The
texts (or 32-byte content digests of images) and the labels are small and gathered on the
driver; image bytes and vectors are not.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_texts
from ..datasets import (
    LABEL_COLUMNS,
    TEXT_COLUMNS,
    csv_delimiter,
    csv_labels,
    is_unlabeled,
    pick_column,
    read_labels,
)
from ..exceptions import InputError

__all__ = ["RaySource", "DigestItem", "read_table", "read_image_folder", "from_inputs"]


@dataclass(frozen=True)
class DigestItem:
    """A stand-in for a media item on the driver: its source and its 32-byte content digest.

    The embedding store keys a media item by ``cache_digest()`` alone, so the driver can address
    an image's row without holding its bytes; a single-machine run that loads the same file as
    an :class:`~headwise.media.ImageItem` hits the same row.
    """

    source: str
    digest: bytes

    def cache_digest(self) -> bytes:
        return self.digest


@dataclass
class RaySource:
    """Rows to embed on Ray: the dataset, the store keys (driver side) and optional labels."""

    dataset: Any  # ray.data.Dataset with an ``item`` column, or ``bytes`` and ``path`` columns
    inputs: list[Any]  # what the store is given: texts, or DigestItem / media items
    kind: str  # "text", "image-files" or "items"
    labels: np.ndarray | None = None
    columns: dict[str, str | None] = field(default_factory=dict)  # role -> column read

    def __len__(self) -> int:
        return len(self.inputs)


def row_key(item: Any) -> str:
    """The hex sha256 by which a row is matched between the driver and the workers.

    Texts hash their UTF-8 bytes; media items (and :class:`DigestItem`) give their content digest.
    """
    if isinstance(item, str):
        return hashlib.sha256(item.encode("utf-8")).hexdigest()
    return bytes(item.cache_digest()).hex()


def _format(path: str) -> str:
    name = path.lower().removesuffix(".gz")
    for ext, fmt in ((".parquet", "parquet"), (".pq", "parquet"), (".csv", "csv"),
                     (".tsv", "tsv"), (".tab", "tsv"), (".jsonl", "json"), (".ndjson", "json"),
                     (".json", "json")):  # fmt: skip
        if name.endswith(ext):
            return fmt
    raise InputError(
        f"Cannot tell the format of {path}: expected .parquet, .csv, .tsv, .jsonl or .json "
        "(optionally .gz), or a folder of images."
    )


def _ray_read(path: str, fmt: str, text_col: str | None = None, label_col: str | None = None) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import ray.data

    if fmt == "parquet":
        return ray.data.read_parquet(path)
    if fmt == "json":
        return ray.data.read_json(path)
    parse = pacsv.ParseOptions(delimiter=csv_delimiter(Path(path), fmt), newlines_in_values=True)
    # The same conversion as headwise.datasets.load_table: texts stay text (a column of digits
    # must not become integers, "007" -> 7, before it is hashed), and labels are read as text
    # and converted by csv_labels.
    texts = (text_col,) if text_col else TEXT_COLUMNS
    labels = (label_col,) if label_col else LABEL_COLUMNS
    convert = pacsv.ConvertOptions(
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        column_types={c: pa.string() for c in (*texts, *labels)},
    )
    return ray.data.read_csv(path, parse_options=parse, convert_options=convert)


def _gather(ds: Any, column: str) -> list[Any]:
    out: list[Any] = []
    for batch in ds.select_columns([column]).iter_batches(batch_size=None, batch_format="numpy"):
        out.extend(batch[column].tolist())
    return out


def _labels(raw: list[Any], column: str, where: str) -> np.ndarray:
    missing = [i for i, v in enumerate(raw) if is_unlabeled(v)]
    if missing:
        raise InputError(
            f"{len(missing)} row(s) of {where} have no label in column '{column}' "
            f"(first: row {missing[0]}); drop or fill them."
        )
    return read_labels(raw, column, where)


def read_table(
    path: str | Path,
    *,
    text_col: str | None = None,
    label_col: str | None = None,
    with_labels: bool = False,
) -> RaySource:
    """Read a Parquet, CSV/TSV or JSON-lines table with Ray Data (local path or any URI Ray reads).

    The text column defaults as in :func:`headwise.datasets.load_table` (``text``, ``sentence``,
    ...); labels are read when ``with_labels`` (``label_text`` preferred over ``label``).
    """
    where = str(path)
    if "://" not in where and not Path(where).exists():
        raise InputError(f"Data file {where} does not exist.")
    try:
        fmt = _format(where)
        ds = _ray_read(where, fmt, text_col, label_col)
        names = list(ds.schema().names)
    except InputError:
        raise
    except Exception as exc:  # pyarrow / Ray Data raise many types for a file they cannot parse
        raise InputError(f"Could not read {where} with Ray Data: {str(exc).splitlines()[0]}") from None
    tcol = pick_column(names, text_col, TEXT_COLUMNS, "text", where, True)
    lcol = pick_column(names, label_col, LABEL_COLUMNS, "label", where, with_labels)
    assert tcol is not None
    keep = [tcol] if lcol is None else [tcol, lcol]
    # Read the files once: the driver's key pass and the encoder pool both use these blocks,
    # and the encoder actors can take every CPU without starving a read task (a deadlock).
    ds = ds.select_columns(keep).materialize()
    texts = check_texts(_gather(ds, tcol), column=tcol)
    if lcol is not None:
        raw = _gather(ds, lcol)
        labels = _labels(csv_labels(raw) if fmt in ("csv", "tsv") else raw, lcol, where)
    else:
        labels = None
    ds = ds.select_columns([tcol]).rename_columns({tcol: "item"}) if tcol != "item" else ds
    return RaySource(ds, texts, "text", labels, {"text": tcol, "label": lcol})


def _image_files(root: Path) -> tuple[list[Path], list[tuple[str, ...]]]:
    from ..media import IMAGE_EXTENSIONS

    files, parts = [], []
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = f.relative_to(root).parts
        if any(p.startswith(".") or p == "__MACOSX" for p in rel):
            continue
        if f.suffix.lower() in IMAGE_EXTENSIONS:
            files.append(f)
            parts.append(rel)
    return files, parts


def _digest_batch(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from ..media import ImageItem

    keys = [
        ImageItem(source=str(p), data=bytes(b)).cache_digest().hex()
        for b, p in zip(batch["bytes"], batch["path"], strict=True)
    ]
    return {"key": np.asarray(keys), "path": batch["path"]}


def read_image_folder(path: str | Path) -> RaySource:
    """Read an ImageFolder-style folder (``[split/]class/file``) with Ray Data's binary reader.

    Files are listed and labelled on the driver exactly as :func:`headwise.media.load_images`
    does (sorted, hidden files and non-image extensions left out); workers read the bytes and
    hash them, so only 32-byte digests come back to the driver. Files that cannot be decoded
    fail the embedding with a message naming the file (``--on-error skip`` is not offered here).
    """
    import ray.data

    from ..media._common import layout

    root = Path(path).expanduser()
    files, parts = _image_files(root)
    if not files:
        raise InputError(f"No image files found in {root}.")
    meta = layout(parts, root)
    labels = None
    if any(lab is not None for _, lab in meta):
        labels = np.asarray([lab for _, lab in meta], dtype=object)
    ds = ray.data.read_binary_files([str(f) for f in files], include_paths=True).materialize()
    digests: list[str] = []
    for b in ds.map_batches(_digest_batch, batch_format="numpy").iter_batches(
        batch_size=None, batch_format="numpy"
    ):
        digests.extend(b["key"].tolist())
    if len(digests) != len(files):  # pragma: no cover - Ray Data returns every file once
        raise InputError(f"Ray Data read {len(digests)} of the {len(files)} files in {root}.")
    inputs = [DigestItem(str(f), bytes.fromhex(k)) for f, k in zip(files, digests, strict=True)]
    return RaySource(ds, inputs, "image-files", labels, {"text": "image", "label": "folder"})


def from_inputs(inputs: list[Any], labels: Any = None) -> RaySource:
    """Rows already in the driver's memory (texts or media items), shipped to the workers."""
    import ray.data

    items = list(inputs)
    if not items:
        raise InputError("inputs is empty; there is nothing to embed. Pass at least one row.")
    if all(isinstance(t, str) for t in items):
        check_texts(items)
        kind = "text"
    else:
        kind = "items"
    n_blocks = max(1, min(len(items) // 256, 200))
    ds = ray.data.from_items([{"item": t} for t in items], override_num_blocks=n_blocks)
    y = None if labels is None else np.asarray(labels)
    return RaySource(ds, items, kind, y)
