from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from headwise.datasets import load_table
from headwise.exceptions import InputError

ROWS = [
    {"text": "the match ended in a draw", "label": "sport", "split": "train"},
    {"text": "stocks fell sharply today", "label": "finance", "split": "train"},
    {"text": "a late goal won the cup", "label": "sport", "split": "test"},
    {"text": "the bank raised its rates", "label": "finance", "split": "dev"},
]


def _write(path: Path, rows: list[dict], fmt: str) -> Path:
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif fmt == "jsonl.gz":
        with gzip.open(path, "wt") as fh:
            fh.write("".join(json.dumps(r) + "\n" for r in rows))
    elif fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"
        keys = list(rows[0])
        lines = [sep.join(keys)] + [sep.join(f'"{r[k]}"' if fmt == "csv" else str(r[k]) for k in keys) for r in rows]
        path.write_text("\n".join(lines) + "\n")
    elif fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "jsonl.gz", "csv", "tsv", "parquet"])
def test_every_format_reads_the_same_rows(tmp_path: Path, fmt: str) -> None:
    t = load_table(_write(tmp_path / f"d.{fmt}", ROWS, fmt))
    assert t.texts == [r["text"] for r in ROWS]
    assert t.labels.tolist() == [r["label"] for r in ROWS]
    assert t.split_indices("train").tolist() == [0, 1]
    assert t.split_indices("validation").tolist() == [3]  # "dev" is an alias
    assert (t.text_col, t.label_col, t.split_col) == ("text", "label", "split")


def test_prefers_label_text_and_reads_shared_banking77(shared_data: Path) -> None:
    t = load_table(shared_data / "banking77.jsonl.gz")
    assert t.label_col == "label_text"
    assert len(t) == 13083 and t.split_indices("test").size == 3080
    assert np.unique(t.labels).size == 77


def test_integer_labels_stay_integers(tmp_path: Path) -> None:
    rows = [{"text": "a", "label": 0}, {"text": "b", "label": 1}]
    t = load_table(_write(tmp_path / "d.jsonl", rows, "jsonl"))
    assert t.labels.dtype.kind == "i" and t.splits is None


@pytest.mark.parametrize(
    ("rows", "kwargs", "match"),
    [
        (ROWS, {"text_col": "sentence"}, "Column 'sentence' not found"),
        ([{"body2": "x", "label": 1}], {}, "No text column found"),
        ([{"text": "x"}], {}, "No label column found"),
        ([{"text": "  ", "label": 1}], {}, "Row 0 of column 'text' is empty"),
        ([{"text": "a", "label": None}], {}, "have no label"),
    ],
)
def test_bad_tables_get_one_line_errors(tmp_path: Path, rows, kwargs, match) -> None:
    with pytest.raises(InputError, match=match) as info:
        load_table(_write(tmp_path / "d.jsonl", rows, "jsonl"), **kwargs)
    assert "\n" not in str(info.value)


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_table(tmp_path / "nope.csv")
    (tmp_path / "d.xlsx").write_text("x")
    with pytest.raises(InputError, match="Cannot tell the format"):
        load_table(tmp_path / "d.xlsx")


def test_broken_json_line_is_named(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text('{"text": "a", "label": 1}\n{"text": oops}\n')
    with pytest.raises(InputError, match="line 2 is not valid JSON"):
        load_table(p)


def test_label_lists_are_read_as_multilabel(tmp_path: Path) -> None:
    p = tmp_path / "ml.jsonl"
    rows = [{"text": "a", "labels": [3, 1]}, {"text": "b", "labels": []},
            {"text": "c", "labels": [2]}]  # fmt: skip
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    t = load_table(p)
    assert t.is_multilabel and t.labels.tolist() == [(1, 3), (), (2,)]  # never strings
    with pytest.raises(InputError, match="list of labels per row"):
        t.require_single_label()


def test_label_lists_mixed_with_single_labels_refused(tmp_path: Path) -> None:
    p = tmp_path / "mixed.jsonl"
    p.write_text('{"text": "a", "labels": [1]}\n{"text": "b", "labels": 2}\n')
    with pytest.raises(InputError, match="mixes label lists with single labels"):
        load_table(p)


def test_shared_goemotions_is_multilabel() -> None:
    path = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "goemotions.jsonl.gz"
    if not path.is_file():
        pytest.skip("shared data not present")
    t = load_table(path)
    assert t.label_col == "label_texts" and t.is_multilabel
    assert len({v for r in t.labels for v in r}) == 28  # not 160 label combinations
