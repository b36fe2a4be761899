from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from headwise.protocols import Summary, summarize, write_json_atomic


def test_summary_interval_matches_t_distribution():
    from scipy import stats

    scores = [0.6, 0.7, 0.65, 0.72]
    mean, half = summarize(scores)
    lo, hi = stats.t.interval(0.95, len(scores) - 1, loc=np.mean(scores), scale=stats.sem(scores))
    assert mean == pytest.approx(np.mean(scores))
    assert half == pytest.approx((hi - lo) / 2)
    assert summarize([0.5]) == (0.5, 0.0)


def test_results_are_frozen():
    s = Summary.of([0.1, 0.2])
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.mean = 1.0  # type: ignore[misc]


def test_write_json_atomic_leaves_no_temp(tmp_path):
    path = write_json_atomic(tmp_path / "run" / "x.json", {"a": np.float32(1.5), "b": np.arange(2)})
    assert json.loads(path.read_text()) == {"a": 1.5, "b": [0, 1]}
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]
