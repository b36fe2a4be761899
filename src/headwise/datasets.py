"""Reading labelled tables: CSV, TSV, JSON lines (optionally gzipped) and Parquet."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import check_texts
from .exceptions import InputError

__all__ = ["Table", "load_table", "SPLIT_ALIASES"]

TEXT_COLUMNS = ("text", "sentence", "content", "body", "input")
LABEL_COLUMNS = ("label_text", "label", "label_texts", "labels", "class", "category", "target")
SPLIT_COLUMNS = ("split", "set", "fold")
SPLIT_ALIASES = {
    "train": ("train", "training"),
    "validation": ("validation", "valid", "val", "dev"),
    "test": ("test", "testing", "eval"),
}


@dataclass(frozen=True)
class Table:
    """Rows of a labelled table; ``labels``/``splits`` are ``None`` when the column is absent."""

    path: Path  # where the rows came from
    texts: list[str]  # one input per row
    labels: np.ndarray | None  # one label per row (str or int), a tuple per row (multi-label), or None
    splits: np.ndarray | None  # split name per row (str), or None
    text_col: str  # column the texts came from
    label_col: str | None  # column the labels came from
    split_col: str | None  # column the split names came from
    columns: list[str] = field(default_factory=list)  # every column in the file

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def is_multilabel(self) -> bool:
        """True when the label column holds a list of labels per row (``labels`` is then an
        object array of tuples)."""
        return self.labels is not None and self.labels.dtype == object

    def require_single_label(self) -> Table:
        """``self``, or one clear error when the label column holds label lists."""
        if self.is_multilabel:
            raise InputError(
                f"Column '{self.label_col}' of {self.path.name} holds a list of labels per row "
                "(multi-label data); this command takes one label per row. `headwise fit`, `eval "
                "--model` and `predict` handle multi-label data, or pass --label-col with a "
                "single-label column."
            )
        return self

    def split_indices(self, split: str) -> np.ndarray:
        """Row indices of ``split`` (aliases such as dev/validation accepted)."""
        if self.splits is None:
            raise InputError(
                f"{self.path.name} has no split column; pass --split-col or use a file per split."
            )
        names = SPLIT_ALIASES.get(split, (split,))
        mask = np.isin(self.splits, names)
        return np.flatnonzero(mask)

    def available_splits(self) -> list[str]:
        return [] if self.splits is None else sorted(set(self.splits.tolist()))


def _format_of(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    fmt = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
           ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet"}.get(ext)
    if fmt is None:
        raise InputError(
            f"Cannot tell the format of {path.name}: expected .csv, .tsv, .jsonl, .json, .parquet "
            "(optionally .gz)."
        )
    return fmt


def _read_columns(path: Path, fmt: str) -> dict[str, list[Any]]:
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pydict()
        if fmt in ("csv", "tsv"):
            import pyarrow.csv as pacsv

            opts = pacsv.ParseOptions(delimiter="\t" if fmt == "tsv" else ",", newlines_in_values=True)
            conv = pacsv.ConvertOptions(strings_can_be_null=False, quoted_strings_can_be_null=False)
            return pacsv.read_csv(path, parse_options=opts, convert_options=conv).to_pydict()
        opener = gzip.open if path.suffix.lower() == ".gz" else open
        rows: list[dict[str, Any]] = []
        with opener(path, "rt", encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path.name} line {lineno} is not valid JSON: {exc.msg}.") from None
                if not isinstance(row, dict):
                    raise InputError(f"{path.name} line {lineno} is not a JSON object.")
                rows.append(row)
        cols: dict[str, list[Any]] = {}
        for i, row in enumerate(rows):
            for k in row:
                if k not in cols:
                    cols[k] = [None] * i
            for k, v in cols.items():
                v.append(row.get(k))
        return cols
    except InputError:
        raise
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(f"Could not read {path.name}: {exc}.") from None
    except Exception as exc:  # pyarrow parse errors have many types
        raise InputError(f"Could not parse {path.name} as {fmt}: {str(exc).splitlines()[0]}") from None


def _pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...], role: str,
          path: Path, required: bool) -> str | None:
    if wanted is not None:
        if wanted not in columns:
            raise InputError(
                f"Column '{wanted}' not found in {path.name}; it has: {', '.join(columns)}. "
                f"Pass the right --{role}-col."
            )
        return wanted
    for c in candidates:
        if c in columns:
            return c
    if required:
        raise InputError(
            f"No {role} column found in {path.name} (looked for {', '.join(candidates)}); it has: "
            f"{', '.join(columns)}. Pass --{role}-col."
        )
    return None


def _label_lists(raw: list[Any], column: str, path: Path) -> np.ndarray:
    """A list-valued label column as an object array of sorted tuples (multi-label), never as
    strings; a column mixing lists with single labels is refused."""
    scalar = [i for i, v in enumerate(raw) if not isinstance(v, (list, tuple))]
    if scalar:
        raise InputError(
            f"Column '{column}' of {path.name} mixes label lists with single labels (first single "
            f"label: row {scalar[0]}); give every row a list (multi-label) or none (single-label)."
        )
    items = {type(x) for v in raw for x in v}
    if not items <= {int, str} or len(items) > 1:
        raise InputError(
            f"Column '{column}' of {path.name} holds label lists whose entries are not all "
            "integers or all strings; use one label type throughout."
        )
    out = np.empty(len(raw), dtype=object)
    out[:] = [tuple(sorted(set(v))) for v in raw]
    return out


def load_table(
    path: str | Path,
    *,
    text_col: str | None = None,
    label_col: str | None = None,
    split_col: str | None = None,
    require_labels: bool = True,
) -> Table:
    """Read a table of texts with labels and (optionally) split names.

    Columns default to the first present of ``text``/``sentence``/...; ``label_text`` is preferred
    over ``label`` so predictions read as names.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Data file {path} does not exist.")
    fmt = _format_of(path)
    cols = _read_columns(path, fmt)
    names = list(cols)
    if not names or not any(len(v) for v in cols.values()):
        raise InputError(f"{path.name} has no rows.")
    tcol = _pick(names, text_col, TEXT_COLUMNS, "text", path, True)
    lcol = _pick(names, label_col, LABEL_COLUMNS, "label", path, require_labels)
    scol = _pick(names, split_col, SPLIT_COLUMNS, "split", path, False)
    assert tcol is not None
    texts = check_texts(cols[tcol], column=tcol)
    labels = None
    if lcol is not None:
        raw = cols[lcol]
        missing = [i for i, v in enumerate(raw) if v is None or v == ""]
        if missing:
            raise InputError(
                f"{len(missing)} row(s) of {path.name} have no label in column '{lcol}' "
                f"(first: row {missing[0]}); drop or fill them."
            )
        kinds = {type(v) for v in raw}
        if kinds & {list, tuple}:
            labels = _label_lists(raw, lcol, path)
        elif kinds <= {int, bool}:
            labels = np.asarray(raw, dtype=np.int64)
        else:
            labels = np.asarray([str(v) for v in raw])
    splits = None
    if scol is not None:
        splits = np.asarray(["" if v is None else str(v) for v in cols[scol]])
    return Table(path=path, texts=texts, labels=labels, splits=splits, text_col=tcol,
                 label_col=lcol, split_col=scol, columns=names)
