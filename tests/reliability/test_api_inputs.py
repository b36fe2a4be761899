"""The Python API on bad or unusual input: one headwise error naming the problem, never a raw
numpy/scipy error and never a silently different result (each case below did one of those)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save

from headwise.exceptions import HeadwiseError, InputError
from headwise.heads import get_head, load_head, load_head_extras, read_safetensors
from headwise.store import EmbeddingStore
from headwise.trust import ConformalClassifier, TemperatureScaler

RNG = np.random.default_rng(0)
Y = np.arange(90) % 3
X = RNG.normal(size=(90, 8)) + 3 * np.eye(3, 8)[Y]


def _conformal(**params: Any) -> Callable[[], Any]:
    def run(u: Any = None) -> Any:
        head = get_head("lda").fit(X[:30], Y[:30])
        return ConformalClassifier(head, **params).calibrate(X[30:60], Y[30:60], u=u).predict_set(X[60:], 0.1)

    return run


def _partial(name: str, *chunks: tuple[np.ndarray, Any], classes: Any = None) -> Callable[[], Any]:
    def run() -> Any:
        head = get_head(name)
        for i, (rows, y) in enumerate(chunks):
            head.partial_fit(rows, y, classes=classes if i == 0 else None)
        return head

    return run


def _set_after_fit(name: str, **params: Any) -> Callable[[], Any]:
    def run() -> Any:
        return get_head(name).fit(X, Y).set_params(**params).predict(X[:3])

    return run


class _Encoder:
    dim, pooling = 3, "mean"

    def __init__(self, name: str, out: Callable[[int], Any]) -> None:
        self.name, self.out = name, out

    def key(self) -> dict[str, Any]:
        return {"name": self.name}

    def encode(self, inputs: Any, *, batch_size: int = 32, progress: Any = None) -> Any:
        return self.out(len(inputs))


CASES: list[tuple[str, Callable[[], Any], str]] = [
    # conformal: NaN parameters gave empty sets (coverage 0) without a word
    ("raps lam NaN", _conformal(method="raps", lam=float("nan")), "'lam' parameter"),
    ("raps k_reg -1", _conformal(method="raps", k_reg=-1), "'k_reg' parameter"),
    ("raps lam text", _conformal(method="raps", lam="x"), "'lam' parameter"),
    ("random_state None", _conformal(random_state=None), "'random_state' parameter"),
    ("random_state -1", _conformal(random_state=-1), "'random_state' parameter"),
    ("aps u NaN", lambda: _conformal(method="aps", randomized=True)(np.full(30, np.nan)), "u must be"),
    ("y_cal None", lambda: ConformalClassifier(get_head("lda").fit(X, Y)).calibrate(
        X[:3], np.array([0, None, 1], dtype=object)), "missing labels"),
    # temperature
    ("bounds inf", lambda: TemperatureScaler(bounds=(1e-3, float("inf"))).fit(X[:, :3], Y), "two finite numbers"),
    ("bounds of 3", lambda: TemperatureScaler(bounds=(1, 2, 3)).fit(X[:, :3], Y), "two finite numbers"),
    ("all -inf row", lambda: TemperatureScaler().fit(X[:, :3], Y).predict_proba(np.full((1, 3), -np.inf)),
     "-inf for every class"),
    # partial_fit turned labels into another type, or learned NaN/None as a class
    ("classes NaN", _partial("lda", (X[:30], Y[:30]), classes=[np.nan, 1.0]), "classes holds NaN"),
    ("classes None ncm", _partial("ncm", (X[:30], Y[:30]), classes=[None, 1]), "missing label"),
    ("classes None knn", _partial("knn", (X[:30], Y[:30]), classes=[None, 1]), "missing label"),
    ("classes None ridge", _partial("ridge", (X[:30], Y[:30]), classes=[None, 1]), "missing label"),
    ("int then float", _partial("ncm", (X[:30], Y[:30]), (X[30:], Y[30:] + 2.0)), "integer and float"),
    ("bool then int", _partial("nb", (X[:30], Y[:30] == 0), (X[30:], Y[30:] + 2)), "true/false and integer"),
    ("int then bool", _partial("knn", (X[:30], Y[:30]), (X[30:], Y[30:] == 0)), "integer and true/false"),
    # multi-label lists: (1, 2) was flattened into the labels 1 and 2; NaN became a label
    ("tuple label", lambda: get_head("mlridge").fit(X[:4], [[(1, 2)], [(3, 4)], [(1, 2)], [(3, 4)]]),
     "itself a sequence"),
    ("NaN in a list", lambda: get_head("mlridge").fit(X[:3], [[1.0], [2.0, np.nan], [2.0]]), "missing label"),
    ("None in a list", lambda: get_head("mlknn").fit(X[:3], [["a"], ["b", None], ["b"]]), "missing label"),
    # single labels
    ("mixed label types", lambda: get_head("lda").fit(X, np.array([1, "b", 2.5], dtype=object)[Y]),
     "mixes label types"),
    ("date labels", lambda: get_head("lda").fit(X, np.array(["2020-01-01", "2020-01-02", "2020-01-03"],
                                                            dtype="datetime64[D]")[Y]), "datetime64"),
    # parameters changed after fit were used (or misreported) by predict
    ("ncm metric after fit", _set_after_fit("ncm", metric="bogus"), "'metric' parameter"),
    ("knn k=0 after fit", _set_after_fit("knn", n_neighbors=0), "'n_neighbors' parameter"),
    # the store
    ("float32 overflow", lambda: EmbeddingStore(_tmp()).get_or_compute(
        _Encoder("big", lambda n: np.full((n, 3), 1e39)), ["a"]), "float32's range"),
    ("ragged encoder rows", lambda: EmbeddingStore(_tmp()).get_or_compute(
        _Encoder("ragged", lambda n: [[1.0, 2.0, 3.0], [1.0]]), ["a", "b"]), "rows of different lengths"),
]  # fmt: skip


def _tmp() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="hw-api-")


@pytest.mark.parametrize(("call", "found"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_api_input_is_one_headwise_error(call: Callable[[], Any], found: str) -> None:
    with pytest.raises(InputError) as info:
        call()
    assert found in str(info.value) and "\n" not in str(info.value)


def _edited(tmp_path: Path, **changes: Any) -> Path:
    """A saved NCM head whose JSON header is edited by hand (and its digest dropped, as in a
    file saved before digests existed)."""
    path = get_head("ncm").fit(X, Y).save(tmp_path / "h.safetensors")
    arrays, header = read_safetensors(path)
    header = {k: v for k, v in header.items() if k != "digest"}
    for key, edit in changes.items():
        header[key] = edit(header[key]) if callable(edit) else edit
    out = tmp_path / "edited.safetensors"
    out.write_bytes(save(arrays, metadata=header))
    return out


def _state(**entries: Any) -> Callable[[str], str]:
    def edit(raw: str) -> str:
        state = json.loads(raw)
        state.update(entries)
        return json.dumps(state)

    return edit


def _params(**entries: Any) -> Callable[[str], str]:
    return _state(**entries)


@pytest.mark.parametrize(("loader", "changes", "found"), [
    (load_head, {"encoder_key": "[1, 2]"}, "expected dict or NoneType"),
    (load_head_extras, {"extra": "{not json"}, "invalid JSON in its 'extra'"),
    (load_head, {"state": _state(input_scale_={"kind": "value", "value": -1.0})}, "input_scale_=-1.0"),
    (load_head, {"params": _params(metric="bogus")}, "'metric' parameter"),
])  # fmt: skip
def test_a_hand_edited_head_file_is_refused(tmp_path: Path, loader: Any, changes: dict, found: str) -> None:
    # each loaded (and predicted differently), or raised AttributeError / JSONDecodeError
    with pytest.raises(HeadwiseError, match=None) as info:
        loader(_edited(tmp_path, **changes))
    assert found in str(info.value), str(info.value)


def test_labels_of_one_kind_still_merge_across_chunks() -> None:
    # int64 then uint64 chunks stay integers (numpy's union of the two is float64)
    head = _partial("ncm", (X[:45], Y[:45]), (X[45:], (Y[45:] + 5).astype(np.uint64)))()
    assert head.classes_.dtype.kind == "i" and head.classes_.tolist() == [0, 1, 2, 5, 6, 7]


def test_result_files_are_strict_json(tmp_path: Path) -> None:
    # longtail.json held a bare NaN (a group without classes), which strict parsers refuse
    from headwise._atomic import write_json

    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    path = write_json(tmp_path / "r.json", {"a": float("nan"), "b": [1.0, np.float64("inf")],
                                            "c": np.array([np.nan, 1.0]), "d": np.float32(2.5)})  # fmt: skip
    assert json.loads(path.read_text(), parse_constant=refuse) == {"a": None, "b": [1.0, None],
                                                                   "c": [None, 1.0], "d": 2.5}  # fmt: skip
