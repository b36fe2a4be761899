"""The battery's sandbox: a workspace with toy data, a fitted head and a warm cache.

Each case runs in a fresh copy of a template workspace (made once per session), so cases are
independent and cheap. The CLI runs in-process (typer's CliRunner) unless a case needs another
user or a mount; uncaught exceptions are caught by the runner and fail the case.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from battery_helpers import run_in_process, toy_rows


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """toy.jsonl/csv, a head fitted on it with the hash encoder, and the cache that made it."""
    ws = tmp_path_factory.mktemp("battery-template")
    rows = toy_rows(20)
    (ws / "toy.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = ["text,label,split"] + [f"{r['text']},{r['label']},{r['split']}" for r in rows]
    (ws / "toy.csv").write_text("\n".join(lines) + "\n")
    env = {"HEADWISE_CACHE_DIR": str(ws / "cache"), "HEADWISE_PROGRESS": "0"}
    out = run_in_process(
        ["fit", str(ws / "toy.jsonl"), "--encoder", "hash", "--head", "ridge",
         "--out", str(ws / "head.safetensors")], env,
    )
    assert out.code == 0, out.stdout + out.stderr + repr(out.exception)
    return ws


@pytest.fixture
def workspace(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    ws = tmp_path / "ws"
    shutil.copytree(template, ws, symlinks=True)
    monkeypatch.delenv("HEADWISE_DEBUG", raising=False)
    monkeypatch.setenv("HEADWISE_CACHE_DIR", str(ws / "cache"))
    monkeypatch.setenv("HEADWISE_PROGRESS", "0")
    return ws


def shards(ws: Path) -> list[Path]:
    return sorted((ws / "cache" / "v2").rglob("shard-*.npy"))


