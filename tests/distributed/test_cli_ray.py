"""`headwise embed --ray` and `headwise fit --ray` end to end on the session's local Ray.

The commands run in process (typer's CliRunner) on the Ray that ``ray_local`` started, which
the CLI uses as it is: a subprocess per command would start a Ray of its own each time (tens of
seconds on a busy machine). The unreachable-cluster test runs the real entry point in a
subprocess, before any Ray is up in it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def _invoke(*args: str) -> subprocess.CompletedProcess[str]:
    """``headwise ARGS`` in this process; an uncaught exception is exit 1 with its traceback."""
    from typer.testing import CliRunner

    from headwise.cli.main import app

    res = CliRunner().invoke(app, list(args))
    stderr, code = res.stderr, res.exit_code
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        stderr += "".join(traceback.format_exception(res.exception))
        code = code or 1
    return subprocess.CompletedProcess(["headwise", *args], code, res.stdout, stderr)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "headwise.cli.main", *args], env=os.environ.copy(),
                          capture_output=True, text=True, timeout=900)  # fmt: skip


def test_embed_and_fit_with_ray_hit_the_rows_of_a_local_run(ray_local: object, tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    rows = [{"text": f"{w} number {i}", "label": w} for i in range(200) for w in ("cat", "dog")]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    on_ray = _invoke("embed", str(data), "-e", "hash", "--ray", "--json")
    assert on_ray.returncode == 0, on_ray.stderr
    first = json.loads(on_ray.stdout)
    assert first["backend"] == "ray" and not first["cache_hit"] and first["rows"] == 400
    local = _invoke("embed", str(data), "-e", "hash", "--json")
    assert local.returncode == 0 and json.loads(local.stdout)["cache_hit"]
    fit = _invoke("fit", str(data), "-e", "hash", "--head", "ncm", "--ray", "--json",
                  "--out", str(tmp_path / "h.safetensors"))  # fmt: skip
    assert fit.returncode == 0, fit.stderr
    assert json.loads(fit.stdout)["cache_hit"] and (tmp_path / "h.safetensors").is_file()


def test_unreachable_cluster_is_one_line(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "a"}\n')
    out = _run("embed", str(data), "-e", "hash", "--ray-address", "127.0.0.1:1")
    assert out.returncode == 1
    assert "Traceback" not in out.stderr and "error:" in out.stderr
