"""Heads that hold another head (a base or inner head) save it nested, one way for all.

The files in ``golden/`` were written by the previous version (three layouts: transductive and
logit-adjusted heads kept ``<name>.`` arrays and a ``state`` record, token heads ``<name>/`` and
``meta``); they must still load and predict as the heads they were fitted as.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from headwise.heads import get_head, load_head, save_head

GOLDEN = Path(__file__).parent / "golden"


def _rows() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 12)
    return rng.normal(size=(36, 6)) + 2.0 * np.eye(3, 6)[y], y


def _tokens() -> tuple[list[np.ndarray], list[int]]:
    rng = np.random.default_rng(0)
    rng.normal(size=(36, 6))  # the rows drawn first when the file was written
    return [rng.normal(size=(4, 3)) * (1 + 2 * (i % 2)) for i in range(40)], [i % 2 for i in range(40)]


CASES = {
    "transductive": (dict(base="lda"), _rows),
    "logitadjust": (dict(base="lda", tau=1.0), _rows),
    "moment": (dict(rank=2), _tokens),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_files_of_the_previous_version_load(name: str) -> None:
    params, data = CASES[name]
    X, y = data()
    old = load_head(GOLDEN / f"{name}_v1.safetensors")
    fresh = get_head(name, **params).fit(X, y)
    np.testing.assert_allclose(old.predict_proba(X), fresh.predict_proba(X), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_nested_heads_save_one_way_and_round_trip(name: str, tmp_path: Path) -> None:
    params, data = CASES[name]
    X, y = data()
    head = get_head(name, **params).fit(X, y)
    arrays, meta = head._get_state()
    (attr,) = [k for k, v in meta.items() if v["kind"] == "head"]
    assert set(meta[attr]) == {"kind", "head", "params", "meta"}
    assert any(k.startswith(f"{attr}/") for k in arrays) and not any(k.startswith(f"{attr}.") for k in arrays)
    back = load_head(save_head(head, tmp_path / "h.safetensors"))
    np.testing.assert_array_equal(back.predict_proba(X), head.predict_proba(X))
