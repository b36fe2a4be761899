"""Reading labelled tables: CSV, TSV, JSON lines or a JSON array (optionally gzipped) and Parquet."""

from __future__ import annotations

import codecs
import gzip
import json
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import check_texts, check_unicode, fits_int64
from .exceptions import InputError

__all__ = [
    "Table",
    "csv_delimiter",
    "csv_labels",
    "is_unlabeled",
    "load_table",
    "pick_column",
    "read_labels",
    "SPLIT_ALIASES",
]

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
    n_dropped: int = 0  # rows left out by drop_unlabeled=True (no label)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def is_multilabel(self) -> bool:
        """True when the label column holds a list of labels per row (``labels`` is then an
        object array of tuples)."""
        return (
            self.labels is not None
            and self.labels.dtype == object
            and self.labels.size > 0
            and all(isinstance(v, tuple | list) for v in self.labels)
        )

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
        key = split.strip().lower()
        names = SPLIT_ALIASES.get(key, (key,))
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


def _check_encoding(path: Path, encoding: str) -> None:
    """Refuse bytes that are not valid ``encoding``, naming the line, the byte and the fix."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError:
        raise InputError(
            f"Unknown text encoding {encoding!r}; use a Python codec name such as utf-8, "
            "latin-1 or cp1252."
        ) from None
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    line = 1
    try:
        with opener(path, "rb") as fh:
            while block := fh.read(1 << 20):
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as exc:
                    line += block.count(b"\n", 0, exc.start)
                    bad = block[exc.start : exc.start + 1].hex()
                    raise InputError(
                        f"{path.name} line {line} is not valid {encoding} (byte 0x{bad}); the file "
                        "uses another encoding. Pass --encoding with the file's encoding (e.g. "
                        "--encoding latin-1 or cp1252), or re-save it as UTF-8."
                    ) from None
                line += block.count(b"\n")
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InputError(
            f"{path.name} ends in the middle of a {encoding} character; it was cut short or uses "
            "another encoding (pass --encoding)."
        ) from None
    except (OSError, EOFError) as exc:
        raise InputError(f"Could not read {path.name}: {exc}.") from None


def _bom_encoding(path: Path, encoding: str) -> str:
    """``utf-16`` for a file that starts with a UTF-16 byte-order mark (what spreadsheet tools
    write as "Unicode text") when UTF-8 was asked for; ``encoding`` otherwise."""
    if encoding.lower().replace("-", "").replace("_", "") not in ("utf8", "utf8sig"):
        return encoding
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(2)
    except (OSError, EOFError):
        return encoding
    return "utf-16" if head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else encoding


def _read_columns(path: Path, fmt: str, encoding: str = "utf-8",
                  as_text: tuple[str, ...] = ()) -> dict[str, list[Any]]:
    """Every column of the file as Python lists; in CSV/TSV the columns named in ``as_text``
    stay text (``007`` and ``1.50`` are texts, not the numbers 7 and 1.5)."""
    if fmt != "parquet":
        encoding = _bom_encoding(path, encoding)
        _check_encoding(path, encoding)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            _unique_columns(pq.read_schema(path).names, path)
            return _parquet_columns(pq.read_table(path))
        if fmt in ("csv", "tsv"):
            import pyarrow as pa
            import pyarrow.csv as pacsv

            conv = pacsv.ConvertOptions(strings_can_be_null=False, quoted_strings_can_be_null=False,
                                        column_types={c: pa.string() for c in as_text})
            read = pacsv.ReadOptions(encoding=encoding)

            def parse(delimiter: str, quotes: bool = True) -> Any:
                opts = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                          quote_char='"' if quotes else False)  # fmt: skip
                return pacsv.read_csv(path, read_options=read, parse_options=opts,
                                      convert_options=conv)

            usual, other = _USUAL[fmt], csv_delimiter(path, fmt, encoding)
            table = None
            if other != usual:
                try:
                    table = parse(other)
                except Exception:  # noqa: BLE001 (rows disagree: a one-column file after all)
                    table = None
                if table is not None and table.num_columns < 2:
                    table = None
            if table is None:
                table = parse(usual)
            else:
                warnings.warn(
                    f"{path.name} separates its columns with {other!r}, not {usual!r} (its "
                    f"header is {table.num_columns} columns that way); read it so.",
                    stacklevel=2,
                )
            _unique_columns(table.column_names, path)  # to_pydict keeps one of a repeated name
            cols = table.to_pydict()
            delim = other if other != usual and table.num_columns >= 2 else usual
            swallowed = _swallowed_row(cols, delim)
            if swallowed is not None:
                cols = _without_quotes(path, fmt, cols, swallowed, lambda: parse(delim, False))
            return cols
        rows = _json_rows(path, encoding)
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


_USUAL = {"csv": ",", "tsv": "\t"}


def _parquet_columns(table: Any) -> dict[str, list[Any]]:
    """A Parquet table's columns as Python lists. float32 values are the shortest decimals
    that read back as the same float32 (2.1, not 2.0999999046325684, which made the label
    2.1 the class "2.0999999046325684"); integral decimals are integers, as in an int column."""
    import decimal

    import pyarrow as pa

    cols = table.to_pydict()
    for name, typ in zip(table.column_names, table.schema.types, strict=True):
        if pa.types.is_float32(typ):
            cols[name] = [None if v is None else float(str(np.float32(v))) for v in cols[name]]
        elif pa.types.is_decimal(typ) and all(
            v is None or v == v.to_integral_value() for v in cols[name]
        ):
            cols[name] = [None if v is None else int(v) for v in cols[name]]
        elif pa.types.is_decimal(typ):
            cols[name] = [None if v is None else str(v) if isinstance(v, decimal.Decimal) else v
                          for v in cols[name]]  # fmt: skip
    return cols


def _swallowed_row(cols: dict[str, list[Any]], delimiter: str) -> int | None:
    """The first row with a field that holds whole rows of the file: a line break followed by a
    line with as many separators as a row has. A stray opening quote (``"Start of a 6 inch``)
    made the parser read the following lines, separators and all, into one field."""
    row_seps = len(cols) - 1
    for values in cols.values():
        for i, v in enumerate(values):
            if isinstance(v, str) and "\n" in v and delimiter in v:
                if any(line.count(delimiter) == row_seps for line in v.split("\n")[1:]):
                    return i
    return None


def _without_quotes(path: Path, fmt: str, cols: dict[str, list[Any]], row: int,
                    parse: Any) -> dict[str, list[Any]]:  # fmt: skip
    """A TSV is read again with quotes as plain text (TSV has no quoting convention: ``12"``
    is an inch mark) when that reads; otherwise, and for a CSV, where quotes matter, the rows
    stay as read, with a warning naming the row."""
    if fmt == "tsv":
        try:
            table = parse()
        except Exception:  # noqa: BLE001 (rows then disagree: the quotes were meant)
            table = None
        if table is not None:
            warnings.warn(
                f"{path.name}: a quote in row {row} opened a field that ran over the following "
                "lines; read the file again with quotes as ordinary characters (TSV has no "
                "quoting).",
                stacklevel=3,
            )
            return table.to_pydict()
    warnings.warn(
        f"{path.name}: row {row} holds a quoted field that runs over the following lines, "
        'separators and all (a stray " at the start of a field?); those lines were read as '
        f'part of it. If they are rows, close or double the quote ("") in row {row}.',
        stacklevel=3,
    )
    return cols


def csv_delimiter(path: Path, fmt: str, encoding: str = "utf-8") -> str:
    """The separator of a CSV/TSV file: ``,`` (``\t`` for TSV) unless the header line has none
    of it and exactly one of ``;`` (European spreadsheet exports), tab (a TSV saved as .csv),
    ``|`` or ``,``; the usual one too where the file cannot be opened here (a folder, a remote
    URI). Shared by the local and the Ray reader."""
    usual = _USUAL[fmt]
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", encoding=encoding, errors="replace", newline="") as fh:
            header = fh.readline()
    except (OSError, EOFError):
        return usual  # the reader says what is wrong with the file
    if usual in header:
        return usual
    found = [d for d in (";", "\t", "|", ",") if d != usual and d in header]
    return found[0] if len(found) == 1 else usual


def _unique_columns(names: list[str], path: Path) -> None:
    """Refuse a repeated column name: reading it would keep only one of its columns, silently
    (the same header written twice in a spreadsheet export)."""
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        shown = ", ".join(repr(n) for n in twice)
        raise InputError(
            f"{path.name} has more than one column named {shown}; rename the columns so that "
            "each name is unique, then pass the one you mean with --text-col / --label-col."
        )


def _json_rows(path: Path, encoding: str) -> list[dict[str, Any]]:
    """The objects of a JSON Lines file (one object per line, blank lines skipped), or of a
    file holding one JSON array of objects (``pandas.DataFrame.to_json(orient="records")``)."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    if codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"  # a byte-order mark (Windows editors write one) is not data
    with opener(path, "rt", encoding=encoding) as fh:
        head = fh.read(4096).lstrip()
    if head.startswith("["):
        with opener(path, "rt", encoding=encoding) as fh:
            try:
                rows = json.load(fh)
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"{path.name} starts a JSON array but is not valid JSON (line {exc.lineno}: "
                    f"{exc.msg})."
                ) from None
        bad = next((i for i, r in enumerate(rows) if not isinstance(r, dict)), None)
        if bad is not None:
            raise InputError(
                f"Item {bad} of the JSON array in {path.name} is not a JSON object; give one "
                "object per row, such as {\"text\": ..., \"label\": ...}."
            )
        return rows
    rows = []
    with opener(path, "rt", encoding=encoding) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"{path.name} line {lineno} is not valid JSON: {exc.msg}. headwise reads JSON "
                    "Lines (one object per line) or one JSON array of objects."
                ) from None
            if not isinstance(row, dict):
                raise InputError(
                    f"{path.name} line {lineno} is not a JSON object; give one object per line, "
                    "such as {\"text\": ..., \"label\": ...}."
                )
            rows.append(row)
    return rows


def pick_column(columns: list[str], wanted: str | None, candidates: tuple[str, ...], role: str,
                where: str, required: bool) -> str | None:
    """The column for ``role``: ``wanted`` exactly, else the first of ``candidates`` present,
    matched without regard to case or surrounding spaces (``Text``, `` label ``) when no column
    has the exact name; ``None`` when absent and not ``required``. ``where`` names the file."""
    if wanted is not None:
        if wanted not in columns:
            raise InputError(
                f"Column '{wanted}' not found in {where}; it has: {', '.join(columns)}. "
                f"Pass the right --{role}-col."
            )
        return wanted
    for c in candidates:
        if c in columns:
            return c
    for c in candidates:
        loose = [col for col in columns if col.strip().lower() == c]
        if len(loose) > 1:
            raise InputError(
                f"{where} has several columns that read as '{c}' ({', '.join(map(repr, loose))}); "
                f"pass the one you mean with --{role}-col."
            )
        if loose:
            return loose[0]
    if required:
        raise InputError(
            f"No {role} column found in {where} (looked for {', '.join(candidates)}); it has: "
            f"{', '.join(columns)}. Pass --{role}-col."
        )
    return None


def _label_lists(raw: list[Any], column: str, where: str) -> np.ndarray:
    """A list-valued label column as an object array of sorted tuples (multi-label), never as
    strings; a column mixing lists with single labels is refused."""
    scalar = [i for i, v in enumerate(raw) if not isinstance(v, (list, tuple))]
    if scalar:
        raise InputError(
            f"Column '{column}' of {where} mixes label lists with single labels (first single "
            f"label: row {scalar[0]}); give every row a list (multi-label) or none (single-label)."
        )
    items = {type(x) for v in raw for x in v}
    if not items <= {int, str} or len(items) > 1:
        raise InputError(
            f"Column '{column}' of {where} holds label lists whose entries are not all "
            "integers or all strings; use one label type throughout."
        )
    out = np.empty(len(raw), dtype=object)
    for i, v in enumerate(raw):
        for x in v:
            if isinstance(x, str) and not x.strip():
                raise InputError(
                    f"Row {i} of column '{column}' in {where} lists an empty label; drop it "
                    "from the list (an empty list means no label) or name the class."
                )
            if isinstance(x, str) and not x.isascii():
                check_unicode(x, f"Row {i} of column '{column}'")
    out[:] = [tuple(sorted(set(v))) for v in raw]
    return out


def load_table(
    path: str | Path,
    *,
    text_col: str | None = None,
    label_col: str | None = None,
    split_col: str | None = None,
    require_labels: bool = True,
    drop_unlabeled: bool = False,
    encoding: str = "utf-8",
) -> Table:
    """Read a table of texts with labels and (optionally) split names.

    Columns default to the first present of ``text``/``sentence``/...; ``label_text`` is preferred
    over ``label`` so predictions read as names. Rows without a label (None, NaN, empty) are
    refused with their row numbers, or left out with ``drop_unlabeled=True`` (counted in
    ``Table.n_dropped``). Text files are decoded with ``encoding``; bytes that do not decode are
    reported with their line number.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(
            f"Data file {path} is a folder, not a file; give a CSV, TSV, JSONL or Parquet file "
            "(folders of images or audio need an image or audio encoder)."
        )
    if not path.exists():
        raise InputError(f"Data file {path} does not exist.")
    if not path.is_file():
        raise InputError(f"Data file {path} is not a regular file; give a CSV, JSONL or Parquet file.")
    fmt = _format_of(path)
    if path.stat().st_size == 0:  # pyarrow: "Empty CSV file", without what to do
        raise InputError(f"{path.name} has no rows: it is empty (0 bytes); give a file with a header and rows.")
    text_names = (text_col,) if text_col is not None else TEXT_COLUMNS
    label_names = (label_col,) if label_col is not None else LABEL_COLUMNS
    as_text = (*text_names, *label_names, *((split_col,) if split_col is not None else SPLIT_COLUMNS))
    cols = _read_columns(path, fmt, encoding, as_text=as_text)
    names = list(cols)
    if not names or not any(len(v) for v in cols.values()):
        raise InputError(f"{path.name} has no rows.")
    tcol = pick_column(names, text_col, TEXT_COLUMNS, "text", path.name, True)
    lcol = pick_column(names, label_col, LABEL_COLUMNS, "label", path.name, require_labels)
    scol = pick_column(names, split_col, SPLIT_COLUMNS, "split", path.name, False)
    if fmt in ("csv", "tsv") and any(c is not None and c not in as_text for c in (tcol, lcol, scol)):
        # a loosely matched column ("Text") was read with inferred types: read it again as
        # text, so that 007 stays "007"
        as_text = (*as_text, *(c for c in (tcol, lcol, scol) if c is not None))
        cols = _read_columns(path, fmt, encoding, as_text=as_text)
    if fmt in ("csv", "tsv") and lcol is not None:
        cols[lcol] = csv_labels(cols[lcol])
    if tcol is None:  # pragma: no cover - _pick raises when a required column is absent
        raise InputError(f"No text column found in {path.name}.")
    keep: list[int] | None = None
    if lcol is not None:
        missing = [i for i, v in enumerate(cols[lcol]) if is_unlabeled(v)]
        if missing and not drop_unlabeled:
            shown = ", ".join(str(i) for i in missing[:10]) + (", ..." if len(missing) > 10 else "")
            raise InputError(
                f"{len(missing)} row(s) of {path.name} have no label (None, NaN or empty) in "
                f"column '{lcol}': rows {shown}. Fill them, or pass --drop-unlabeled to leave "
                "them out."
            )
        if missing:
            gone = set(missing)
            keep = [i for i in range(len(cols[lcol])) if i not in gone]
            if not keep:
                raise InputError(f"Every row of {path.name} lacks a label in column '{lcol}'.")
    pick = (lambda v: v) if keep is None else (lambda v: [v[i] for i in keep])
    texts = check_texts(pick(cols[tcol]), column=tcol)
    labels = None if lcol is None else read_labels(pick(cols[lcol]), lcol, path.name)
    splits = None
    if scol is not None:
        # "Test", " test " and "TEST" name the test split: matched exactly, they were no split
        # at all, and `score` fell back to every row, training rows included
        splits = np.asarray(["" if v is None else str(v).strip().lower() for v in pick(cols[scol])])
        blank = np.flatnonzero(splits == "")
        if 0 < blank.size < splits.size:
            warnings.warn(
                f"{blank.size} row(s) of {path.name} have no value in split column '{scol}' "
                f"(first: row {int(blank[0])}); they are in no split, so no command uses them. "
                "Fill them (train, validation or test) to use them.",
                stacklevel=2,
            )
    return Table(path=path, texts=texts, labels=labels, splits=splits, text_col=tcol,
                 label_col=lcol, split_col=scol, columns=names,
                 n_dropped=0 if keep is None else len(cols[lcol]) - len(keep))  # type: ignore[index]


def _refuse_mix(raw: list[Any], column: str, where: str, first_kind: Any, kinds: str,
                risk: str, how: str = "") -> None:
    """Refuse a label column that mixes two kinds of value, naming a row of each (the first
    of the kind ``first_kind`` tells, then the first of the other)."""
    a = next(i for i, v in enumerate(raw) if first_kind(v))
    b = next(i for i, v in enumerate(raw) if not first_kind(v))
    raise InputError(
        f"Column '{column}' of {where} mixes {kinds} (row {a}: {raw[a]!r}, row {b}: "
        f"{raw[b]!r}), so {risk}; write every label the same way{how}."
    )


_CANONICAL_INT = re.compile(r"0|-?[1-9][0-9]*")
# pyarrow's spellings of a missing number (its default null_values)
_NULL_SPELLINGS = frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
                             "1.#IND", "1.#QNAN", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null"})


def csv_labels(cells: list[Any]) -> list[Any]:
    """CSV/TSV label cells (read as text) as labels: integers where every cell is an integer
    written plainly (``7``, ``-3``; within int64), else the text exactly as written.

    Type guessing merged classes: ``007``, ``07`` and ``7`` were all 7, ``true`` and ``TRUE``
    one class, ``1`` became ``"1.0"`` beside a ``2.5``. A cell spelled as a missing number
    (``NaN``, ``NA``, empty) is missing only in a column of numbers; elsewhere it is a name.

    >>> csv_labels(["7", "10", "NaN"]), csv_labels(["007", "7"]), csv_labels(["1", "2.5"])
    ([7, 10, None], ['007', '7'], ['1', '2.5'])
    """
    text = [c if isinstance(c, str) or c is None else str(c) for c in cells]
    present = [c.strip() for c in text if c is not None and c.strip() not in _NULL_SPELLINGS]

    def number(c: str) -> bool:
        try:
            return math.isfinite(float(c))
        except ValueError:
            return False

    numeric = bool(present) and all(number(c) for c in present)
    missing = {None} | (_NULL_SPELLINGS if numeric else {""})
    out: list[Any] = [None if c is None or (c.strip() if numeric else c) in missing else c for c in text]
    if numeric and all(_CANONICAL_INT.fullmatch(c) and fits_int64(int(c)) for c in present):
        return [None if c is None else int(c) for c in out]
    return out


def is_unlabeled(v: Any) -> bool:
    """Whether a label cell is empty: None, NaN or infinity, or blank text."""
    if v is None:
        return True
    if isinstance(v, float) and not np.isfinite(v):
        return True
    return isinstance(v, str) and not v.strip()


_FLOAT_EXACT = 2**53  # a float holds every integer up to here; above, neighbours merge


def _refuse_inexact(raw: list[Any], column: str, where: str) -> None:
    """Refuse number labels that would not survive exactly: an integer outside int64 (it
    would wrap around) or a float at or beyond 2^53 (ids that differ there were already read
    as one float, so two classes would merge)."""
    def inexact(v: Any) -> bool:
        return (isinstance(v, float) and abs(v) >= _FLOAT_EXACT) or \
            (isinstance(v, int) and not fits_int64(v))

    big = next((i for i, v in enumerate(raw) if inexact(v)), None)
    if big is not None:
        raise InputError(
            f"Row {big} of column '{column}' in {where} holds the number {raw[big]!r}, too large "
            "to keep exactly as a label (integers up to 18 digits, or 15 where the column also "
            "holds decimals); give such ids as names instead, e.g. with a letter in front "
            "('id12…'), so they are read as text."
        )


def read_labels(raw: list[Any], column: str, where: str) -> np.ndarray:
    """Integers stay integers (integral floats too); label lists become tuples (multi-label);
    booleans become ``"True"``/``"False"``; objects (``{"k": 1}``) are refused; anything else
    becomes a string label."""
    kinds = {type(v) for v in raw}
    if kinds & {list, tuple}:
        return _label_lists(raw, column, where)
    odd = next((i for i, v in enumerate(raw) if isinstance(v, dict)), None)
    if odd is not None:
        raise InputError(
            f"Row {odd} of column '{column}' in {where} holds an object ({raw[odd]!r}), not a "
            "label; give each row a name or an integer (or a list of them), or pass --label-col "
            "with the column that holds the labels."
        )
    if bool in kinds and kinds & {int, float}:
        _refuse_mix(raw, column, where, lambda v: isinstance(v, bool), "true/false with numbers",
                    "True and 1 would be one class")
    if kinds == {bool}:  # read as the file wrote them, not as the numbers 1 and 0
        return np.asarray([str(v) for v in raw])
    if str in kinds and kinds & {int, bool, float}:
        _refuse_mix(raw, column, where, lambda v: not isinstance(v, str), "numbers and text",
                    '1 and "1" would be one class or two by accident', " (all quoted or none)")
    if kinds <= {int, float}:
        _refuse_inexact(raw, column, where)
        if all(float(v).is_integer() for v in raw):  # int(v): exact, a float64 array is not
            return np.asarray([int(v) for v in raw], dtype=np.int64)
    out = [str(v) for v in raw]
    for i, v in enumerate(out):
        if not v.isascii():
            check_unicode(v, f"Row {i} of column '{column}'")
    return np.asarray(out)
