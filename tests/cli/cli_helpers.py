from __future__ import annotations

import os
import subprocess
import sys
import traceback
from pathlib import Path

import numpy as np

VOCAB = {
    "sport": "match goal team cup league coach referee striker season score",
    "finance": "stocks bank rates market shares profit loan bonds investor fund",
    "weather": "rain storm sunny forecast cloud wind snow temperature humid cold",
}


def toy_rows(n_per_class: int = 40, seed: int = 0) -> list[dict]:
    """Texts whose words reveal their class, so even the hash encoder separates them."""
    rng = np.random.default_rng(seed)
    rows = []
    for label, words in VOCAB.items():
        vocab = words.split()
        for i in range(n_per_class):
            text = " ".join(rng.choice(vocab, size=6)) + f" item{i}"
            rows.append({"text": text, "label": label, "split": "test" if i % 4 == 0 else "train"})
    return rows


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``headwise ARGS`` in this process (typer's CliRunner); fields as a subprocess gives.

    The CLI maps errors in its click group, so exit codes and the one-line messages are the
    ones a shell sees. An exception that escapes that mapping becomes exit code 1 with its
    traceback on stderr, so "one line, no traceback" checks keep their meaning. ``env`` and
    ``cwd`` apply for the duration of the call. :func:`run_entry_point` runs the real
    ``python -m headwise.cli.main`` in a subprocess (seconds of imports per call).
    """
    from typer.testing import CliRunner

    from headwise.cli.main import app

    old_env = {k: os.environ.get(k) for k in (env or {})}
    old_cwd = os.getcwd()
    os.environ.update(env or {})
    try:
        if cwd is not None:
            os.chdir(cwd)
        res = CliRunner().invoke(app, list(args))
    finally:
        os.chdir(old_cwd)
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    stderr = res.stderr
    code = res.exit_code
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        stderr += "".join(traceback.format_exception(res.exception))
        code = code or 1
    return subprocess.CompletedProcess(["headwise", *args], code, res.stdout, stderr)


def run_entry_point(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `python -m headwise.cli.main ...` in a subprocess (the real entry path)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "headwise.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=600,
    )


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    """The CLI's error message, after checking it failed with exit 1, one line and no traceback."""
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert lines[-1].startswith("(set HEADWISE_DEBUG=1")
    return " ".join(lines[:-1])
