"""The long-tailed protocol: the exponential profile, shot groups, and the CLI's --imbalance."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from headwise.exceptions import InputError
from headwise.protocols import long_tail_eval, long_tail_indices
from headwise.protocols.long_tail import shot_groups

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))


@pytest.mark.parametrize("R", [1.0, 10.0, 100.0])
def test_profile_is_exponential_and_seeded(R: float) -> None:
    y = np.repeat(np.arange(10), 300)
    idx = long_tail_indices(y, R, seed=3)
    counts = np.sort(np.bincount(y[idx]))[::-1]
    expect = np.maximum(np.floor(300 * R ** (-np.arange(10) / 9)).astype(int), 1)
    np.testing.assert_array_equal(counts, expect)
    assert counts[0] / counts[-1] == pytest.approx(R, rel=0.05)
    np.testing.assert_array_equal(idx, long_tail_indices(y, R, seed=3))
    if R > 1:  # another seed puts other classes in the tail
        assert not np.array_equal(np.bincount(y[idx]), np.bincount(y[long_tail_indices(y, R, seed=4)]))


def test_bad_ratio_refused() -> None:
    with pytest.raises(InputError, match="imbalance"):
        long_tail_indices(np.repeat([0, 1], 5), 0.5)


def test_shot_groups_boundaries() -> None:
    g = shot_groups(np.array([101, 100, 20, 19]))
    assert g["many"].tolist() == [True, False, False, False]
    assert g["medium"].tolist() == [False, True, True, False]
    assert g["few"].tolist() == [False, False, False, True]


def test_eval_reports_groups_and_adjustment_helps_few() -> None:
    rng = np.random.default_rng(0)
    K = 10
    centres = rng.normal(scale=1.0, size=(K, 8))
    y = np.repeat(np.arange(K), 300)
    X = centres[y] + rng.normal(size=(y.size, 8))
    yt = np.repeat(np.arange(K), 100)
    Xt = centres[yt] + rng.normal(size=(yt.size, 8))
    res = long_tail_eval("lda,logitadjust", X, y, Xt, yt, imbalance=100, seeds=2)
    assert set(res.heads) == {"lda", "logitadjust"}
    assert sum(res.n_classes_per_group.values()) == K
    r = res.heads["lda"]
    for g in (r.overall, r.many, r.medium, r.few):
        assert len(g.per_seed) == 2
    assert res.heads["logitadjust"].few.mean > res.heads["lda"].few.mean
    assert res.to_json()["record"]["settings"]["imbalance"] == 100.0


def test_cli_imbalance(tmp_path: Path) -> None:
    from cli_helpers import one_error_line, run_cli, toy_rows

    rows = toy_rows(n_per_class=60)
    p = tmp_path / "toy.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = run_cli("eval", str(p), "--encoder", "hash", "--imbalance", "10", "--heads", "lda,logitadjust",
                  "--seeds", "2", "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["protocol"] == "longtail" and payload["imbalance"] == 10.0
    assert set(payload["heads"]["lda"]) >= {"overall", "many", "medium", "few"}
    msg = one_error_line(run_cli("eval", str(p), "--encoder", "hash", "--protocol", "longtail"))
    assert "--imbalance" in msg
