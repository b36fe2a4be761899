"""The battery's table: one bad input per row, what the CLI must say, and how to set it up.

A case's ``setup(ws)`` prepares the workspace and returns the CLI arguments. ``match`` is a
fragment the one error line must contain. ``damaged`` marks cases whose setup damages the
cache on purpose: verify must then report that damage and nothing new. ``mode`` is
"inproc" (CliRunner), "nobody" (a subprocess as user nobody: permission-denied for real while
the tests run as root) or "mount" (a tmpfs mounted read-only or tiny: read-only FS, disk full).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

Setup = Callable[[Path], list[str]]


@dataclass(frozen=True)
class Case:
    id: str
    setup: Setup
    match: str
    mode: str = "inproc"
    damaged: bool = False


def _w(ws: Path, name: str, data: str | bytes) -> Path:
    p = ws / name
    p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return p


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def _rows(ws: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (ws / "toy.jsonl").read_text().splitlines()]


def fit(ws: Path, data: Path | str, *extra: str) -> list[str]:
    return ["fit", str(data), "--encoder", "hash", "--head", "ncm",
            "--out", str(ws / "out.safetensors"), *extra]


def _with_rows(name: str, edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> Setup:
    def setup(ws: Path) -> list[str]:
        return fit(ws, _w(ws, name, _jsonl(edit(_rows(ws)))))
    return setup


def _label(i: int, value: Any) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    def edit(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows[i]["label"] = value
        return rows
    return edit


def _text(i: int, value: Any) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    def edit(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows[i]["text"] = value
        return rows
    return edit


# ---------------------------------------------------------------- head files
def _edit_head(
    header_fn: Callable[[dict[str, str]], None] | None = None,
    arrays_fn: Callable[[dict[str, np.ndarray]], None] | None = None,
    command: str = "eval",
    keep_digest: bool = False,
) -> Setup:
    def setup(ws: Path) -> list[str]:
        from safetensors import safe_open
        from safetensors.numpy import save

        src = ws / "head.safetensors"
        with safe_open(str(src), "numpy") as f:
            header = dict(f.metadata())
            arrays = {k: f.get_tensor(k) for k in f.keys()}
        if keep_digest:  # an edit with the file's digest left in: caught as damage
            digest = header["digest"]
        else:  # a file crafted by hand (or saved before digests): the checks below the digest
            header.pop("digest", None)
        if header_fn:
            header_fn(header)
        if arrays_fn:
            arrays_fn(arrays)
        if keep_digest:
            header["digest"] = digest
        bad = _w(ws, "edited.safetensors", save(arrays, metadata=header))
        return [command, str(ws / "toy.jsonl"), "--model", str(bad)]
    return setup


def _state(edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, str]], None]:
    def fn(header: dict[str, str]) -> None:
        state = json.loads(header["state"])
        edit(state)
        header["state"] = json.dumps(state)
    return fn


def _set(key: str, value: str) -> Callable[[dict[str, str]], None]:
    def fn(header: dict[str, str]) -> None:
        header[key] = value
    return fn


def _del(key: str) -> Callable[[dict[str, Any]], None]:
    def fn(d: dict[str, Any]) -> None:
        del d[key]
    return fn


def _params(header: dict[str, str]) -> None:
    params = json.loads(header["params"])
    params["bogus"] = 1
    header["params"] = json.dumps(params)


def _short_classes(state: dict[str, Any]) -> None:
    state["classes_"]["value"] = state["classes_"]["value"][:2]


def _object_classes(state: dict[str, Any]) -> None:
    state["classes_"]["dtype"] = "|O"


def _nan_coef(arrays: dict[str, np.ndarray]) -> None:
    arrays["coef_"] = arrays["coef_"].copy()
    arrays["coef_"][0, 0] = np.nan


def _head_bytes(fn: Callable[[bytes], bytes]) -> Setup:
    def setup(ws: Path) -> list[str]:
        bad = _w(ws, "cut.safetensors", fn((ws / "head.safetensors").read_bytes()))
        return ["eval", str(ws / "toy.jsonl"), "--model", str(bad)]
    return setup


# ---------------------------------------------------------------- cache damage
def _damage(fn: Callable[[Path, Path], None]) -> Setup:
    def setup(ws: Path) -> list[str]:
        shards = sorted((ws / "cache" / "v2").rglob("shard-*.npy"))
        fn(ws, shards[0])
        return fit(ws, ws / "toy.jsonl")
    return setup


def _truncate(ws: Path, shard: Path) -> None:
    shard.write_bytes(shard.read_bytes()[:-17])


def _flip(ws: Path, shard: Path) -> None:
    data = bytearray(shard.read_bytes())
    data[-3] ^= 0x10
    shard.write_bytes(bytes(data))


def _nan_shard(ws: Path, shard: Path) -> None:
    from headwise.store._shards import npy_bytes

    arr = np.load(shard)
    arr[0, 0] = np.nan
    data = npy_bytes(arr)
    shard.write_bytes(data)
    with sqlite3.connect(ws / "cache" / "v2" / "index.sqlite") as con:
        con.execute("UPDATE shards SET sha256 = ? WHERE name = ?",
                    (hashlib.sha256(data).hexdigest(), shard.name))


def _missing_shard(ws: Path, shard: Path) -> None:
    shard.unlink()


def _symlink_key(ws: Path, shard: Path) -> None:
    folder = shard.parent
    outside = ws / "elsewhere"
    os.replace(folder, outside)
    os.symlink(outside, folder)


def _cache_is_file(ws: Path) -> list[str]:
    _w(ws, "cachefile", "not a folder")
    os.environ["HEADWISE_CACHE_DIR"] = str(ws / "cachefile")  # restored by monkeypatch
    return fit(ws, ws / "toy.jsonl")


def _gz(ws: Path) -> list[str]:
    return fit(ws, _w(ws, "bad.jsonl.gz", b"plain text, not gzip"))


def _unseen(ws: Path) -> list[str]:
    rows = _rows(ws)
    rows[0]["label"] = "astronomy"
    return ["eval", str(_w(ws, "unseen.jsonl", _jsonl(rows))), "--model", str(ws / "head.safetensors")]


def _mismatch(command: str) -> Setup:
    def setup(ws: Path) -> list[str]:
        return [command, str(ws / "toy.jsonl"), "--model", str(ws / "head.safetensors"),
                "--encoder", "hash:64"]
    return setup


def _latin1(ext: str) -> Setup:
    def setup(ws: Path) -> list[str]:
        body = (ws / f"toy.{ext}").read_text().replace("item1", "café1")
        return fit(ws, _w(ws, f"latin.{ext}", body.encode("latin-1")))
    return setup


CASES: list[Case] = [
    # ------------------------------------------------ data files
    Case("data-missing", lambda ws: fit(ws, ws / "nope.jsonl"), "does not exist"),
    Case("data-is-folder-fit", lambda ws: fit(ws, ws), "is a folder"),
    Case("data-is-folder-embed", lambda ws: ["embed", str(ws), "--encoder", "hash"], "is a folder"),
    Case("data-unknown-format", lambda ws: fit(ws, _w(ws, "x.txt", "a,b\n")), "Cannot tell the format"),
    Case("data-empty-file", lambda ws: fit(ws, _w(ws, "e.jsonl", "")), "no rows"),
    Case("data-header-only-csv", lambda ws: fit(ws, _w(ws, "h.csv", "text,label\n")), "no rows"),
    Case("data-bad-json-line", lambda ws: fit(ws, _w(ws, "b.jsonl", '{"text": "a", "label": 1}\n{oops\n')),
         "line 2 is not valid JSON"),
    Case("data-json-not-object", lambda ws: fit(ws, _w(ws, "l.jsonl", "[1, 2]\n")), "not a JSON object"),
    Case("data-not-gzip", _gz, "Could not read"),
    Case("data-garbage-parquet", lambda ws: fit(ws, _w(ws, "g.parquet", b"PAR1 nonsense")), "parse"),
    Case("data-latin1-csv", _latin1("csv"), "is not valid utf-8"),
    Case("data-latin1-jsonl", _latin1("jsonl"), "is not valid utf-8"),
    Case("data-unknown-encoding", lambda ws: fit(ws, ws / "toy.csv", "--encoding", "klingon"),
         "Unknown text encoding"),
    Case("data-no-text-column", lambda ws: fit(ws, _w(ws, "c.csv", "words,label\na,b\n")), "No text column"),
    Case("data-text-col-missing", lambda ws: fit(ws, ws / "toy.csv", "--text-col", "body"), "Column 'body' not found"),
    Case("data-label-col-missing", lambda ws: fit(ws, ws / "toy.csv", "--label-col", "y"), "Column 'y' not found"),
    Case("label-nan", _with_rows("nan.jsonl", _label(3, float("nan"))), "rows 3"),
    Case("label-null", _with_rows("null.jsonl", _label(5, None)), "rows 5"),
    Case("label-empty", _with_rows("empty.jsonl", _label(2, "")), "rows 2"),
    Case("label-blank", _with_rows("blank.jsonl", _label(2, "   ")), "rows 2"),
    Case("label-all-missing-dropped",
         lambda ws: fit(ws, _w(ws, "none.jsonl", _jsonl([{**r, "label": None} for r in _rows(ws)])),
                        "--drop-unlabeled"), "Every row"),
    Case("text-empty", _with_rows("te.jsonl", _text(4, "")), "Row 4"),
    Case("text-null", _with_rows("tn.jsonl", _text(4, None)), "Row 4"),
    Case("text-number", _with_rows("tnum.jsonl", _text(4, 17)), "Row 4"),
    Case("one-class", _with_rows("one.jsonl", lambda rows: [{**r, "label": "x"} for r in rows]), "class"),
    Case("split-absent", lambda ws: fit(ws, ws / "toy.jsonl", "--train-split", "nosuch"), "nosuch"),
    # ------------------------------------------------ options
    Case("batch-size-zero", lambda ws: fit(ws, ws / "toy.jsonl", "--batch-size", "0"), "--batch-size"),
    # one forward pass over a million inputs ran out of memory instead of running faster
    Case("batch-size-huge", lambda ws: fit(ws, ws / "toy.jsonl", "--batch-size", "1000000"),
         "between 1 and 4096"),
    Case("dtype-float64", lambda ws: fit(ws, ws / "toy.jsonl", "--dtype", "float64"), "float32"),
    Case("unknown-head", lambda ws: ["fit", str(ws / "toy.jsonl"), "--encoder", "hash", "--head", "nohead",
                                     "--out", str(ws / "o.safetensors")], "nohead"),
    Case("unknown-encoder", lambda ws: fit(ws, ws / "toy.jsonl", "--encoder", "nonesuch"), "nonesuch"),
    Case("bad-head-param", lambda ws: fit(ws, ws / "toy.jsonl", "--param", "nonsense"), "nonsense"),
    Case("top-k-zero", lambda ws: ["predict", str(ws / "toy.jsonl"), "--model", str(ws / "head.safetensors"),
                                   "--top-k", "0"], "top-k"),
    Case("predict-out-suffix", lambda ws: ["predict", str(ws / "toy.jsonl"), "--model",
                                           str(ws / "head.safetensors"), "--out", str(ws / "p.xlsx")],
         ".jsonl"),
    Case("eval-nothing", lambda ws: ["eval", str(ws / "toy.jsonl")], "Nothing to evaluate"),
    Case("eval-unknown-protocol", lambda ws: ["eval", str(ws / "toy.jsonl"), "--protocol", "bogus"], "bogus"),
    Case("eval-unseen-label", _unseen, "never seen"),
    # ------------------------------------------------ head files
    Case("model-missing", lambda ws: ["eval", str(ws / "toy.jsonl"), "--model", str(ws / "no.safetensors")],
         "does not exist"),
    Case("model-is-folder", lambda ws: ["eval", str(ws / "toy.jsonl"), "--model", str(ws)], "is a folder"),
    Case("model-garbage", _head_bytes(lambda b: b"\x00" * 64), "not a readable head file"),
    Case("model-empty", _head_bytes(lambda b: b""), "not a readable head file"),
    Case("model-truncated", _head_bytes(lambda b: b[: len(b) // 2]), "not a readable head file"),
    Case("head-bad-json", _edit_head(_set("params", "{not json")), "invalid JSON"),
    Case("head-state-bad-json", _edit_head(_set("state", "[1,")), "invalid JSON"),
    Case("head-no-name", _edit_head(_del("head")), "which head"),
    Case("head-wrong-name", _edit_head(_set("head", "ridgee")), "unknown head"),
    Case("head-unknown-param", _edit_head(_params), "bogus"),
    Case("head-version-text", _edit_head(_set("format_version", "one")), "not a number"),
    Case("head-version-future", _edit_head(_set("format_version", "99")), "version 99"),
    Case("head-not-headwise", _edit_head(_set("format", "other")), "not a headwise head file"),
    Case("head-missing-array", _edit_head(arrays_fn=_del("coef_")), "coef_"),
    Case("head-short-classes", _edit_head(_state(_short_classes)), "inconsistent"),
    Case("head-object-dtype", _edit_head(_state(_object_classes)), "object"),
    Case("head-nan-coef", _edit_head(arrays_fn=_nan_coef), "NaN"),
    Case("head-nan-coef-predict-json", _edit_head(arrays_fn=_nan_coef, command="predict"), "NaN"),
    Case("head-changed-under-its-digest", _edit_head(arrays_fn=_nan_coef, keep_digest=True),
         "is damaged: its contents no longer match"),
    Case("head-encoder-mismatch-eval", _mismatch("eval"), "was fitted on embeddings from"),
    Case("head-encoder-mismatch-predict", _mismatch("predict"), "was fitted on embeddings from"),
    # ------------------------------------------------ outputs
    Case("out-missing-folder", lambda ws: ["fit", str(ws / "toy.jsonl"), "--encoder", "hash", "--head", "ncm",
                                           "--out", str(ws / "no" / "h.safetensors")],
         "folder that does not exist"),
    Case("out-is-folder", lambda ws: ["fit", str(ws / "toy.jsonl"), "--encoder", "hash", "--head", "ncm",
                                      "--out", str(ws)], "is a folder"),
    Case("out-parent-is-file", lambda ws: ["fit", str(ws / "toy.jsonl"), "--encoder", "hash", "--head", "ncm",
                                           "--out", str(ws / "toy.csv" / "h.safetensors")],
         "not a folder"),
    Case("predict-out-missing-folder", lambda ws: ["predict", str(ws / "toy.jsonl"), "--model",
                                                   str(ws / "head.safetensors"), "--out",
                                                   str(ws / "no" / "p.jsonl")], "does not exist"),
    Case("predict-out-is-folder", lambda ws: ["predict", str(ws / "toy.jsonl"), "--model",
                                              str(ws / "head.safetensors"), "--out", str(ws / "d.jsonl")],
         "is a folder"),
    # ------------------------------------------------ cache
    Case("cache-is-a-file", _cache_is_file, "cachefile"),
    Case("cache-remove-unknown", lambda ws: ["cache", "remove", "ffffffff"], "No cache entry matches"),
    Case("cache-remove-blank", lambda ws: ["cache", "remove", " "], "empty id"),
    Case("shard-truncated", _damage(_truncate), "truncated", damaged=True),
    Case("shard-bit-flip", _damage(_flip), "sha256", damaged=True),
    Case("shard-nan", _damage(_nan_shard), "NaN", damaged=True),
    Case("shard-missing", _damage(_missing_shard), "is missing", damaged=True),
    Case("key-folder-symlink", _damage(_symlink_key), "symlink", damaged=True),
]


def make_dirs_for(case_id: str, ws: Path) -> None:
    """Extra setup some cases need before their arguments are built."""
    if case_id == "predict-out-is-folder":
        (ws / "d.jsonl").mkdir()


