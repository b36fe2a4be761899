"""Checks of the Ray backend that need no Ray running in the test process: refusals, messages,
the RanPAC seam, and which cluster a session joins (in fresh interpreters)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from headwise.exceptions import InputError, MissingDependencyError
from headwise.heads import KNNHead, RandomProjectionRidgeHead, RidgeHead, SufficientStats


def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from headwise.distributed import ray_session

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingDependencyError, match=r"headwise\[ray\]"):
        with ray_session():
            pass


def test_heads_that_need_every_row_are_refused_before_ray_starts() -> None:
    from headwise.distributed import fit_head_ray

    with pytest.raises(InputError, match="ncm, lda, ridge, nb, rpridge, logistic"):
        fit_head_ray(KNNHead(), None)
    with pytest.raises(InputError, match="alpha_selection='gcv'"):
        fit_head_ray(RidgeHead(alpha_selection="val"), None)


def test_unknown_backend_is_refused() -> None:
    from headwise.distributed import embed_table

    with pytest.raises(InputError, match="backend must be one of ray, local"):
        embed_table("x.jsonl", "hash", backend="spark")


def test_ranpac_from_merged_projected_statistics_equals_fit(blobs: tuple) -> None:
    X, y = blobs
    head = RandomProjectionRidgeHead(n_components=32, random_state=3)
    W = head.projection(X.shape[1])
    H = np.maximum(X @ W, 0.0)
    parts = [SufficientStats.from_data(H[i::3], y[i::3], squares=False) for i in range(3)]
    merged = parts[0] + parts[1] + parts[2]
    split = RandomProjectionRidgeHead(n_components=32, random_state=3)
    split.fit_from_projected_stats(merged, X.shape[1])
    whole = head.fit(X, y)
    np.testing.assert_allclose(split.decision_function(X), whole.decision_function(X),
                               rtol=1e-9, atol=1e-9)  # fmt: skip
    assert split.n_features_in_ == X.shape[1]
    with pytest.raises(InputError, match="n_components=32"):
        RandomProjectionRidgeHead(n_components=32).fit_from_projected_stats(
            SufficientStats.from_data(X, y), X.shape[1]
        )


def test_an_address_where_no_cluster_answers_fails_fast_in_one_line() -> None:
    # in a fresh interpreter: ray_session uses a Ray already running in its process as it is,
    # and on an xdist worker that has run test_ray.py the session's local Ray still runs
    pytest.importorskip("ray")
    code = (
        "from headwise.distributed import ray_session\n"
        "from headwise.exceptions import InputError\n"
        "try:\n"
        "    with ray_session('127.0.0.1:1'):\n"
        "        pass\n"
        "except InputError as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    raise SystemExit('no error')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout.strip()
    assert "No Ray cluster answers at 127.0.0.1:1" in out and "\n" not in out


def _session_in_fresh_process(env: dict[str, str], **kwargs: object) -> str:
    code = (
        "from headwise.distributed import ray_session\n"
        "from headwise.exceptions import InputError\n"
        "try:\n"
        f"    with ray_session(**{kwargs!r}) as ray:\n"
        "        print('joined', ray.get_runtime_context().gcs_address)\n"
        "except InputError as exc:\n"
        "    print(exc)\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=240, check=True, env={**os.environ, **env}).stdout.strip()


def test_without_an_address_a_stale_ray_current_cluster_file_is_ignored() -> None:
    # `ray start` (and ray.cluster_utils) leave the last cluster's address in
    # $RAY_TMPDIR/ray/ray_current_cluster; a crashed one never removes it. ray.init() with no
    # address joins that address, so --ray refused to start ("num_cpus must not be provided")
    # or waited on a dead cluster: a local Ray starts instead, as the README says.
    pytest.importorskip("ray")
    tmp = tempfile.mkdtemp(prefix="hwray", dir="/tmp")  # Ray's socket paths must stay short
    try:
        Path(tmp, "ray").mkdir()
        Path(tmp, "ray", "ray_current_cluster").write_text("127.0.0.1:1")
        env = {"RAY_TMPDIR": tmp, "RAY_ADDRESS": ""}
        out = _session_in_fresh_process(env, num_cpus=1)
        assert out.startswith("joined ") and not out.endswith(":1"), out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_without_an_address_ray_address_from_the_environment_is_joined() -> None:
    # `ray job submit` runs its entrypoint with RAY_ADDRESS set: --ray there joins that cluster
    pytest.importorskip("ray")
    out = _session_in_fresh_process({"RAY_ADDRESS": "127.0.0.1:1"}, num_cpus=1)
    assert out.startswith("No Ray cluster answers at 127.0.0.1:1"), out
