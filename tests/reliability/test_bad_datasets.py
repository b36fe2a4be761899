"""Readers: unlabeled rows (refused or dropped and counted), encodings, folders, label types."""

from __future__ import annotations

import gzip
import json
import re

import numpy as np
import pytest

from headwise.datasets import load_table
from headwise.exceptions import InputError


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_nan_none_and_empty_labels_are_refused_with_row_numbers(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"text": "a", "label": NaN}\n{"text": "b", "label": "x"}\n'
                 '{"text": "c", "label": null}\n{"text": "d", "label": " "}\n{"text": "e", "label": "y"}\n')
    with pytest.raises(InputError, match=r"3 row\(s\) .*rows 0, 2, 3\. .*--drop-unlabeled"):
        load_table(p)


def test_drop_unlabeled_drops_and_counts(tmp_path):
    p = _jsonl(tmp_path / "x.jsonl", [{"text": "a", "label": None, "split": "train"},
                                      {"text": "b", "label": "x", "split": "test"},
                                      {"text": "c", "label": "y", "split": "train"}])
    t = load_table(p, drop_unlabeled=True)
    assert t.texts == ["b", "c"] and t.labels.tolist() == ["x", "y"] and t.n_dropped == 1
    assert t.splits.tolist() == ["test", "train"]


def test_csv_nan_label_is_not_the_class_nan(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("text,label\na,1\nb,\nc,2\n")
    with pytest.raises(InputError, match="rows 1"):
        load_table(p)
    t = load_table(p, drop_unlabeled=True)
    assert t.labels.dtype.kind == "i" and t.labels.tolist() == [1, 2]


def test_integral_float_labels_stay_integers(tmp_path):
    p = _jsonl(tmp_path / "x.jsonl", [{"text": "a", "label": 1.0}, {"text": "b", "label": 2}])
    assert load_table(p).labels.tolist() == [1, 2]



@pytest.mark.parametrize(("name", "body", "shown"), [
    # beyond int64: np.int64 wrapped 1e30 to -2**63
    ("x.jsonl", '{"text":"a","label":1}\n{"text":"b","label":1000000000000000000000000000000}\n',
     "1000000000000000000000000000000"),
    # JSON numbers with decimals are floats: 2^53 + 1 and 2^53 were read as one float
    ("x.jsonl", '{"text":"a","label":9007199254740993.0}\n{"text":"b","label":9007199254740992}\n'
     '{"text":"c","label":1.5}\n', "9007199254740992.0"),
])
def test_number_labels_too_large_to_keep_exactly_are_refused(tmp_path, name, body, shown):
    p = tmp_path / name
    p.write_text(body)
    with pytest.raises(InputError, match=rf"holds the number {re.escape(shown)}, too large .*as text"):
        load_table(p)


@pytest.mark.parametrize(("cells", "labels"), [
    # a CSV label column is text: an id too large for int64, or beside a decimal, is kept as
    # written (it used to be read as a float, or refused)
    (["1", "1000000000000000000000000000000"], ["1", "1000000000000000000000000000000"]),
    (["9007199254740993", "9007199254740992", "1.5"], ["9007199254740993", "9007199254740992", "1.5"]),
    # type guessing merged classes: 007, 07 and 7 were one class 7; true and TRUE one "True"
    (["007", "07", "7", "010"], ["007", "07", "7", "010"]),
    (["true", "TRUE", "True", "false"], ["true", "TRUE", "True", "false"]),
    (["+1", "1", "01", "-0"], ["+1", "1", "01", "-0"]),
    (["2020-01-01", "2020-01-01T00:00:00"], ["2020-01-01", "2020-01-01T00:00:00"]),
    # 1 was "1.0" beside a 2.5 (a JSON file with the same labels gives "1")
    (["1", "2", "2.5"], ["1", "2", "2.5"]),
    # integers written plainly stay integers; NA is a name among names
    (["1", "-2", "30"], [1, -2, 30]),
    (["NA", "EU"], ["NA", "EU"]),
])  # fmt: skip
@pytest.mark.parametrize("sep", [",", "\t"])
def test_csv_labels_are_kept_as_written(tmp_path, cells, labels, sep):
    p = tmp_path / ("x.csv" if sep == "," else "x.tsv")
    p.write_text(f"text{sep}label\n" + "".join(f"row {i}{sep}{c}\n" for i, c in enumerate(cells)))
    got = load_table(p).labels.tolist()
    assert got == labels and [type(v) for v in got] == [type(v) for v in labels]
    if sep == ",":
        jsonl = _jsonl(tmp_path / "x.jsonl", [{"text": f"row {i}", "label": v} for i, v in enumerate(labels)])
        assert load_table(jsonl).labels.tolist() == labels  # the same classes from JSON


def test_large_integer_ids_stay_exact(tmp_path):
    """Ids that int64 holds stay distinct, also next to an integral float (no float64 detour)."""
    ids = [9007199254740993, 9007199254740992, 1.0]
    p = _jsonl(tmp_path / "x.jsonl", [{"text": f"t{i}", "label": v} for i, v in enumerate(ids)])
    assert load_table(p).labels.tolist() == [9007199254740993, 9007199254740992, 1]
    csv = tmp_path / "x.csv"
    csv.write_text("text,label\na,9007199254740993\nb,9007199254740992\n")
    assert load_table(csv).labels.tolist() == [9007199254740993, 9007199254740992]

@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".jsonl.gz"])
def test_non_utf8_names_the_line_and_the_fix(tmp_path, suffix):
    body = ("text,label\nplain,a\nsecond,b\ncaf\u00e9,c\n" if suffix == ".csv" else
            '{"text": "plain", "label": "a"}\n{"text": "caf\u00e9", "label": "b"}\n')
    raw = body.encode("latin-1")
    p = tmp_path / f"x{suffix}"
    p.write_bytes(gzip.compress(raw) if suffix.endswith(".gz") else raw)
    line = 4 if suffix == ".csv" else 2
    with pytest.raises(InputError, match=rf"line {line} is not valid utf-8 \(byte 0xe9\).*--encoding"):
        load_table(p)
    t = load_table(p, encoding="latin-1")
    assert any("caf\u00e9" in x for x in t.texts)


def test_unknown_encoding(tmp_path):
    p = _jsonl(tmp_path / "x.jsonl", [{"text": "a", "label": "x"}])
    with pytest.raises(InputError, match="Unknown text encoding 'klingon'"):
        load_table(p, encoding="klingon")


def test_folder_given_as_data(tmp_path):
    with pytest.raises(InputError, match="is a folder, not a file"):
        load_table(tmp_path)


def test_labels_are_kept_as_given(tmp_path):
    p = _jsonl(tmp_path / "x.jsonl", [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}])
    np.testing.assert_array_equal(load_table(p).labels, ["x", "y"])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_repeated_column_name_is_refused_not_collapsed(tmp_path, suffix):
    """Two columns named ``label`` would silently keep one of them."""
    p = tmp_path / f"x{suffix}"
    if suffix == ".csv":
        p.write_text("text,label,label\na,x,1\nb,y,2\n")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table([["a", "b"], ["x", "y"], [1, 2]], names=["text", "label", "label"]), p)
    with pytest.raises(InputError, match=r"more than one column named 'label'"):
        load_table(p)


def test_labels_mixing_numbers_and_text_are_refused(tmp_path):
    """``1`` and ``"1"`` must not merge (or split) a class by accident."""
    p = _jsonl(tmp_path / "x.jsonl", [{"text": "a", "label": 1}, {"text": "b", "label": "1"},
                                      {"text": "c", "label": "2"}])
    with pytest.raises(InputError, match=r"mixes numbers and text \(row 0: 1, row 1: '1'\)"):
        load_table(p)


def test_a_json_array_of_objects_is_read_like_json_lines(tmp_path):
    rows = [{"text": "a", "label": "x", "split": "train"}, {"text": "b", "label": "y"}]
    array = tmp_path / "records.json"
    array.write_text(json.dumps(rows, indent=2))
    t = load_table(array)
    assert t.texts == ["a", "b"] and t.labels.tolist() == ["x", "y"]
    assert t.splits.tolist() == ["train", ""]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"text": "a", "label": "x"}, ["b", "y"]]))
    with pytest.raises(InputError, match="Item 1 of the JSON array in bad.json is not a JSON object"):
        load_table(bad)
    cut = tmp_path / "cut.json"
    cut.write_text(json.dumps(rows)[:-5])
    with pytest.raises(InputError, match="starts a JSON array but is not valid JSON"):
        load_table(cut)


@pytest.mark.parametrize(("row", "where"), [
    ('{"text": "cut \\ud83d", "label": "x"}', "Row 1 of column 'text'"),
    ('{"text": "fine", "label": "x\\udc00"}', "Row 1 of column 'label'"),
    ('{"text": "fine", "label": ["x", "\\ud800"]}', "Row 1 of column 'label'"),
])
def test_an_unpaired_surrogate_is_refused_where_it_is(tmp_path, row, where):
    """JSON's ``"\\ud83d"`` without its pair decodes to a string no encoder, hash or file can
    write as UTF-8 (it used to escape as a UnicodeEncodeError when predictions were written)."""
    first = ('{"text": "ok", "label": ["y"]}' if "[" in row.split("label")[1]
             else '{"text": "ok", "label": "y"}')
    p = tmp_path / "x.jsonl"
    p.write_text(first + "\n" + row + "\n")
    with pytest.raises(InputError, match=rf"{where} holds an unpaired surrogate \(U\+D[8C]"):
        load_table(p)


@pytest.mark.parametrize("text_col", [None, "code"])
def test_texts_that_look_like_numbers_stay_texts_in_csv(tmp_path, text_col):
    """A CSV column of product codes or zip codes is text: ``007`` must not become 7 (or be
    refused as "int, expected text"); labels still read as integers."""
    name = text_col or "text"
    p = tmp_path / "codes.csv"
    p.write_text(f"{name},label,split\n007,1,train\n1.50,2,train\n42,1,test\n")
    t = load_table(p, text_col=text_col)
    assert t.texts == ["007", "1.50", "42"]
    assert t.labels.dtype.kind == "i" and t.labels.tolist() == [1, 2, 1]


def test_an_empty_label_inside_a_label_list_is_refused(tmp_path):
    """``["x", ""]`` would make a class named '' (a blank single label is refused the same way)."""
    p = _jsonl(tmp_path / "x.jsonl", [{"text": "a", "labels": ["x"]},
                                      {"text": "b", "labels": ["x", " "]}])
    with pytest.raises(InputError, match=r"Row 1 of column 'labels' in x.jsonl lists an empty label"):
        load_table(p, label_col="labels")


@pytest.mark.parametrize("name", ["x.jsonl", "x.json"])
def test_a_utf8_byte_order_mark_is_not_data(tmp_path, name):
    """Windows editors start UTF-8 files with a BOM; json refused it on line 1."""
    rows = [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]
    body = json.dumps(rows) if name.endswith(".json") else "".join(json.dumps(r) + "\n" for r in rows)
    p = tmp_path / name
    p.write_bytes(b"\xef\xbb\xbf" + body.encode())
    assert load_table(p).texts == ["a", "b"]


def test_default_columns_are_found_whatever_their_case_or_spaces(tmp_path):
    """Spreadsheets export ``Text,Label`` or `` text , label ``; both were "No text column"."""
    p = tmp_path / "caps.csv"
    p.write_text("Text, Label ,Split\n007,x,train\nc d,y,test\n")
    t = load_table(p)
    assert (t.text_col, t.label_col, t.split_col) == ("Text", " Label ", "Split")
    assert t.texts == ["007", "c d"] and t.splits.tolist() == ["train", "test"]
    both = tmp_path / "both.csv"
    both.write_text("TEXT,Text ,label\na,b,x\n")
    with pytest.raises(InputError, match=r"several columns that read as 'text' \('TEXT', 'Text '\)"):
        load_table(both)
    exact = tmp_path / "exact.csv"
    exact.write_text("Text,text,label\na,b,x\n")
    assert load_table(exact).texts == ["b"]  # the exact name wins


def test_labels_that_are_objects_or_true_false_read_as_written(tmp_path):
    """``{"k": 1}`` was turned into the string "{'k': 1}" and true/false into 1/0."""
    obj = _jsonl(tmp_path / "obj.jsonl", [{"text": "a", "label": "x"}, {"text": "b", "label": {"k": 1}}])
    with pytest.raises(InputError, match=r"Row 1 of column 'label' in obj.jsonl holds an object"):
        load_table(obj)
    flags = _jsonl(tmp_path / "flags.jsonl", [{"text": "a", "label": True}, {"text": "b", "label": False}])
    assert load_table(flags).labels.tolist() == ["True", "False"]
    mixed = _jsonl(tmp_path / "mixed.jsonl", [{"text": "a", "label": True}, {"text": "b", "label": 0}])
    with pytest.raises(InputError, match=r"mixes true/false with numbers \(row 0: True, row 1: 0\)"):
        load_table(mixed)


@pytest.mark.parametrize(("body", "sep"), [
    ("text;label\nhello there;a\nbye now;b\n", ";"),  # a European spreadsheet export
    ("text\tlabel\nhello there\ta\nbye now\tb\n", "\\t"),  # a TSV saved as .csv
    ("text|label\nhello there|a\nbye now|b\n", "|"),
])
def test_a_csv_with_another_separator_is_read_with_it(tmp_path, body, sep):
    # the whole header used to be one column, "No text column found ... it has: text;label"
    p = tmp_path / "x.csv"
    p.write_text(body)
    with pytest.warns(UserWarning, match=rf"separates its columns with '{re.escape(sep)}'"):
        t = load_table(p)
    assert t.texts == ["hello there", "bye now"] and t.labels.tolist() == ["a", "b"]


def test_a_one_column_csv_whose_name_holds_a_separator_stays_one_column(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("text;notes\nhello\nbye there\n")
    t = load_table(p, text_col="text;notes", require_labels=False)
    assert t.texts == ["hello", "bye there"]


@pytest.mark.parametrize("text", ["\u200b", "\x00\x01\x02", "\u200b \u2060\t"])
def test_a_text_of_invisible_characters_only_is_refused_like_an_empty_one(text):
    # the tokenizer dropped every character: each such row got the vector of an empty input
    from headwise._validation import check_texts

    with pytest.raises(InputError, match=r"Row 1 of column 'text' has no visible character"):
        check_texts(["fine", text])
    assert check_texts(["a\u200b", "\u200bb"]) == ["a\u200b", "\u200bb"]


def _stray_quotes(path, sep, n, opened, closed):
    """``n`` rows; row ``opened`` starts with a quote, row ``closed`` holds one (an inch mark)."""
    lines = [f"row number {i}{sep}c{i % 3}{sep}train" for i in range(n)]
    lines[opened] = f'"Start of a 6 inch{sep}c1{sep}train'
    lines[closed] = f'What is a 12" record{sep}c0{sep}train'
    path.write_text(f"text{sep}label{sep}split\n" + "\n".join(lines) + "\n")
    return path


def test_a_stray_quote_in_a_tsv_does_not_swallow_rows(tmp_path):
    # '"Start of a 6 inch' opened a quoted field that ran to the next quote: five rows were one
    p = _stray_quotes(tmp_path / "inch.tsv", "\t", 30, 10, 15)
    with pytest.warns(UserWarning, match="a quote in row 10 opened a field"):
        t = load_table(p)
    assert len(t) == 30 and t.texts[10] == '"Start of a 6 inch' and t.texts[15] == 'What is a 12" record'


def test_a_quoted_multi_line_csv_field_is_kept(tmp_path, recwarn):
    p = tmp_path / "ok.csv"
    p.write_text('text,label\n"Great, product\nwould buy again",a\nplain,b\n')
    assert load_table(p).texts == ["Great, product\nwould buy again", "plain"]
    assert not [w for w in recwarn if "quote" in str(w.message)]


def test_a_stray_quote_in_a_csv_is_named(tmp_path):
    p = _stray_quotes(tmp_path / "inch.csv", ",", 12, 3, 7)
    with pytest.warns(UserWarning, match="row 3 holds a quoted field that runs over the following lines"):
        load_table(p)


def test_split_names_ignore_case_and_spaces_and_blank_ones_are_named(tmp_path):
    p = _jsonl(tmp_path / "s.jsonl", [{"text": "a", "label": "x", "split": "TRAIN"},
                                      {"text": "b", "label": "y", "split": " Test "},
                                      {"text": "c", "label": "x", "split": ""},
                                      {"text": "d", "label": "y", "split": "train"}])
    with pytest.warns(UserWarning, match=r"1 row\(s\) of s.jsonl have no value in split column 'split' \(first: row 2\)"):
        t = load_table(p)
    assert t.split_indices("train").tolist() == [0, 3] and t.split_indices("Test").tolist() == [1]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_a_utf16_file_with_its_byte_order_mark_is_read(tmp_path, encoding):
    # the error suggested --encoding latin-1, which then failed with a parse error
    p = tmp_path / "u16.csv"
    body = "text,label\ncafé au lait,a\nthé,b\n"
    p.write_bytes(("\ufeff" + body).encode(encoding) if encoding.endswith("be") else body.encode(encoding))
    assert load_table(p).texts == ["café au lait", "thé"]


def test_parquet_float32_and_decimal_labels_read_as_written(tmp_path):
    # float32 2.1 was the class "2.0999999046325684"; decimal(5,0) ids were text, so the same
    # ids from an int64 column were "never seen"
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    texts = ["a b", "c d", "e f", "g h"]
    cases = [(pa.array([0.1, 2.1, 2.1, 0.1], pa.float32()), ["0.1", "2.1", "2.1", "0.1"]),
             (pa.array([decimal.Decimal(v) for v in (1, 2, 2, 1)], pa.decimal128(5, 0)), [1, 2, 2, 1]),
             (pa.array([decimal.Decimal(v) for v in ("1.50", "2", "2", "1.50")], pa.decimal128(5, 2)),
              ["1.50", "2.00", "2.00", "1.50"])]  # fmt: skip
    for i, (column, labels) in enumerate(cases):
        path = tmp_path / f"t{i}.parquet"
        pq.write_table(pa.table({"text": texts, "label": column}), path)
        assert load_table(path).labels.tolist() == labels
